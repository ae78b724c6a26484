"""Calls on remote registries that need no local store: tags, catalog, copy, delete, login."""

from __future__ import annotations

import json
from collections.abc import Sequence

from . import _idpkit
from ._types import ClusterOptions, LoginResult, PushResult, StrPath
from ._util import ProgressCallback, _call_args, _registry_options, _secret

__all__ = [
    "catalog",
    "copy",
    "delete",
    "list_tags",
    "login",
    "login_from_cluster",
    "logout",
]


def list_tags(
    repository: str,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> list[str]:
    """Tags of a remote repository (``host[:port]/path``), following pagination.

    Credentials: ``username`` + ``password``, or ``token``; by default they are looked up
    like ``idpkit login`` stores them (environment, Docker config, credential helpers).
    Trust keywords, ``progress``, ``cancel`` and Ctrl-C work as for :meth:`Store.push`.
    """
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
    )
    call = _call_args(doc, username, password, token, progress, cancel)
    raw = _idpkit.list_tags(repository, call)
    tags: list[str] = json.loads(raw)
    return tags


def copy(
    source: str,
    destination: str,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    jobs: int | None = None,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    platform: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> PushResult:
    """Copies the image ``source`` to ``destination`` (both full remote references).

    Within one registry nothing but manifests moves: blobs are mounted from the source
    repository or already there (``blobs_mounted``, ``blobs_skipped``), so copying
    ``HOST/REPO:a`` to ``HOST/REPO:b`` re-tags. Across registries the image goes through a
    temporary store (an index resolves to ``platform``, default this machine's).
    Trust keywords apply to both registries; credentials are the destination's (across
    registries the source is read with its own stored login); ``progress``, ``cancel`` and
    Ctrl-C work as for :meth:`Store.push`.
    """
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        jobs=jobs,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
        platform=platform,
    )
    call = _call_args(doc, username, password, token, progress, cancel)
    raw = _idpkit.copy(source, destination, call)
    return PushResult._from_json(json.loads(raw))


def catalog(
    registry: str,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> list[str]:
    """Repositories of ``registry`` (``host[:port]``) from ``/v2/_catalog``, every page.

    Many hosted registries do not offer their catalog; their answer is raised as the
    matching :class:`IdpkitError` (:class:`AuthError`, :class:`NotFoundError`, ...).
    """
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
    )
    call = _call_args(doc, username, password, token, progress, cancel)
    raw = _idpkit.catalog(registry, call)
    repositories: list[str] = json.loads(raw)
    return repositories


def delete(
    reference: str,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> str:
    """Deletes the manifest ``reference`` names (by tag or digest) from its registry and
    returns its digest. Every tag of that manifest in the repository goes with it.

    A missing tag raises :class:`NotFoundError`; a registry that does not allow deletes
    raises :class:`PolicyError` saying so.
    """
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
    )
    call = _call_args(doc, username, password, token, progress, cancel)
    raw = _idpkit.delete(reference, call)
    digest: str = json.loads(raw)
    return digest


def login(
    registry: str,
    *,
    username: str,
    password: str,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> LoginResult:
    """Checks ``username`` + ``password`` (or a token as the password) against ``registry``
    and stores them like ``docker login``: in ``$REGISTRY_AUTH_FILE`` when set, else
    ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json``), or the credential helper it
    names. Later calls without credentials use them.

    Rejected credentials raise :class:`AuthError` naming the registry and user, never the
    password. The result holds no secret either.
    """
    if not isinstance(username, str):
        raise TypeError(f"username must be a string, got {type(username).__name__}")
    secret = _secret("password", password)
    if secret is None:
        raise TypeError("login needs a password (or token)")
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
    )
    call = _call_args(doc, None, None, None, progress, cancel)
    raw = _idpkit.login(registry, username, secret, call)
    return LoginResult._from_json(json.loads(raw))


def login_from_cluster(
    registry: str,
    cluster: ClusterOptions | None = None,
    *,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: _idpkit.CancelToken | None = None,
) -> LoginResult:
    """:func:`login` to ``registry`` with Gitea's admin credentials read from the cluster
    (Secret ``gitea/gitea-credential`` through ``cluster``'s kubeconfig and context; its
    token when it has one). The secret stays inside the core.

    Trust keywords are for the registry; ``cluster.certs_d`` is only where
    :func:`extract_ca` installs, so after ``extract_ca(ClusterOptions(certs_d=d))`` pass
    ``certs_d=[d]`` here (the default certs.d needs nothing).
    """
    if cluster is None:
        cluster = ClusterOptions()
    elif not isinstance(cluster, ClusterOptions):
        raise TypeError(f"cluster must be an idpkit.ClusterOptions, got {type(cluster).__name__}")
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
        attempts=attempts,
        connect_timeout_secs=connect_timeout_secs,
    )
    call = _call_args(doc, None, None, None, progress, cancel)
    raw = _idpkit.login_from_cluster(registry, json.dumps(cluster._to_json()), call)
    return LoginResult._from_json(json.loads(raw))


def logout(registry: str) -> bool:
    """Removes the stored credentials of ``registry`` from every file (and helper)
    :func:`login` and lookups use; ``False`` when there were none."""
    removed: bool = json.loads(_idpkit.logout(registry))
    return removed
