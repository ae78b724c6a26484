"""GitOps sources against the rig's nginx: the fixture's tarball fetched into a temporary
cache (trusting only the rig CA) and hit the second time, a wrong digest, a hostile tarball
this test serves, listing and collecting the cache, bad options, the asyncio variants and
cancellation.

Without the rig these tests fail, naming the peer. Tarballs this test serves go into the rig's
artifacts directory under names of their own and are removed afterwards.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import idpkit
import idpkit.aio

from .rig import host_port, kube_apply, need, need_file, need_listening


@dataclass(frozen=True)
class Artifacts:
    """The rig's nginx serving Flux-style artifacts, and where it serves them from."""

    url: str
    digest: str
    ca: Path
    dir: Path

    @property
    def base(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/"

    def trust(self) -> dict[str, Any]:
        """The rig CA and nothing else: no platform roots, no certs.d."""
        return {"ca_files": [self.ca], "no_platform_roots": True, "certs_d": []}


@pytest.fixture
def rig() -> Artifacts:
    url = need("nginx", "IDPKIT_RIG_ARTIFACT_URL")
    need_listening("nginx", url)
    return Artifacts(
        url=url,
        digest="sha256:" + need("nginx", "IDPKIT_RIG_ARTIFACT_SHA256"),
        ca=need_file("nginx", "IDPKIT_RIG_CA"),
        dir=Path(need("nginx", "IDPKIT_RIG_DIR")) / "artifacts",
    )


@pytest.fixture
def serve(rig: Artifacts) -> Iterator[Any]:
    """``serve(name, data)`` puts ``data`` where nginx serves it (a dot-temp file renamed into
    place) and returns its URL and sha256 digest."""
    served: list[Path] = []

    def put(name: str, data: bytes) -> tuple[str, str]:
        name = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:12]}-{name}"
        tmp = rig.dir / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.rename(rig.dir / name)
        served.append(rig.dir / name)
        return rig.base + name, "sha256:" + hashlib.sha256(data).hexdigest()

    yield put
    for path in served:
        path.unlink(missing_ok=True)


def gzipped_tar(name: str, data: bytes = b"x") -> bytes:
    """A gzipped tar of one regular file ``name`` (written as given, ``..`` and all)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def test_fetch_lands_in_the_cache_then_hits(rig: Artifacts, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    events: list[idpkit.Event] = []
    first = idpkit.source_fetch_artifact(
        rig.url, rig.digest, cache=cache, progress=events.append, **rig.trust()
    )
    assert isinstance(first, idpkit.SourceFetched)
    hex_ = rig.digest.removeprefix("sha256:")
    assert first.path == cache / "artifact" / f"sha256-{hex_}"
    assert (first.path / "README.md").is_file()
    assert first.hit is False
    assert (first.url, first.digest, first.source) == (rig.url, rig.digest, "artifact")
    assert first.files > 0 and first.bytes > 0 and first.size > 0
    assert first.skipped_symlinks == ()
    assert events == []  # no retry, no insecure host: nothing to report

    second = idpkit.source_fetch_artifact(rig.url, rig.digest, cache=cache, **rig.trust())
    assert second.hit is True
    assert second.path == first.path


def test_list_and_gc(rig: Artifacts, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetched = idpkit.source_fetch_artifact(rig.url, rig.digest, cache=cache, **rig.trust())
    listed = idpkit.source_list(cache=cache)
    assert [(e.url, e.path, e.digest) for e in listed] == [(rig.url, fetched.path, rig.digest)]
    assert isinstance(listed[0], idpkit.SourceListing) and listed[0].bytes > 0

    dry = idpkit.source_gc(cache=cache, max_bytes=1, dry_run=True)
    assert [e.url for e in dry.removed] == [rig.url]
    assert fetched.path.is_dir()

    gc = idpkit.source_gc(cache=cache, max_bytes=1)
    assert isinstance(gc, idpkit.GcResult)
    assert [e.url for e in gc.removed] == [rig.url]
    assert gc.freed_bytes > 0 and gc.kept == 0 and gc.in_use == 0
    assert not fetched.path.exists()
    assert idpkit.source_list(cache=cache) == []

    with pytest.raises(idpkit.InvalidInputError, match="rule"):
        idpkit.source_gc(cache=cache)


def test_a_wrong_digest_is_an_integrity_error_and_nothing_is_cached(
    rig: Artifacts, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(idpkit.IntegrityError, match=r"fixture\.tar\.gz") as err:
        idpkit.source_fetch_artifact(rig.url, "sha256:" + "0" * 64, cache=cache, **rig.trust())
    assert err.value.kind == idpkit.ErrorKind.INTEGRITY
    assert idpkit.source_list(cache=cache) == []


def test_a_traversing_entry_is_an_unsafe_archive_and_nothing_escapes(
    rig: Artifacts, serve: Any, tmp_path: Path
) -> None:
    url, digest = serve("traversal.tar.gz", gzipped_tar("../evil"))
    root = tmp_path / "root"
    root.mkdir()
    cache = root / "cache"
    with pytest.raises(idpkit.UnsafeArchiveError) as err:
        idpkit.source_fetch_artifact(url, digest, cache=cache, **rig.trust())
    assert url in str(err.value)
    assert [p for p in tmp_path.rglob("*") if p.name == "evil"] == []
    assert [p.name for p in root.iterdir()] == ["cache"]
    assert idpkit.source_list(cache=cache) == []


def test_an_insecure_host_is_fetched_from_with_an_audit_event(
    rig: Artifacts, tmp_path: Path
) -> None:
    """No root trusted, the host marked insecure: the fetch works and says so in an event."""
    events: list[idpkit.Event] = []
    got = idpkit.source_fetch_artifact(
        rig.url,
        rig.digest,
        cache=tmp_path / "cache",
        insecure_hosts=[host_port(rig.url)],
        no_platform_roots=True,
        certs_d=[],
        progress=events.append,
    )
    assert (got.path / "README.md").is_file()
    audit = [e for e in events if e["type"] == "insecure_connection"]
    assert audit and all("127.0.0.1" in str(e.get("host")) for e in audit), events


def test_unknown_options_are_named(rig: Artifacts, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="max_download_bytes"):
        idpkit.source_fetch_artifact(rig.url, rig.digest, max_download_bytes=1)  # type: ignore[call-arg]
    # The core's strict parser names the field and the allowed ones.
    options = {"url": rig.url, "digest": rig.digest, "max_download_bytes": 1}
    with pytest.raises(idpkit.InvalidInputError, match="max_download_bytes") as err:
        idpkit.resolve_options("source_fetch_artifact", options)
    assert "max_download_size" in str(err.value)
    with pytest.raises(idpkit.InvalidInputError, match="max_size"):
        idpkit.resolve_options("source_gc", {"max_size": 1})
    with pytest.raises(idpkit.InvalidInputError, match="digest"):
        idpkit.source_fetch_artifact(rig.url, "md5:abc", cache=tmp_path / "cache", **rig.trust())


def test_a_cancelled_token_stops_the_fetch(rig: Artifacts, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    token = idpkit.CancelToken()
    token.cancel()
    with pytest.raises(idpkit.CancelledError):
        idpkit.source_fetch_artifact(rig.url, rig.digest, cache=cache, cancel=token, **rig.trust())
    assert idpkit.source_list(cache=cache) == []


def test_aio_fetch_list_gc_and_cancel(rig: Artifacts, tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    async def main() -> None:
        first = await idpkit.aio.source_fetch_artifact(
            rig.url, rig.digest, cache=cache, **rig.trust()
        )
        assert first.hit is False and (first.path / "README.md").is_file()
        second = await idpkit.aio.source_fetch_artifact(
            rig.url, rig.digest, cache=cache, **rig.trust()
        )
        assert second.hit is True and second.path == first.path
        assert [e.url for e in await idpkit.aio.source_list(cache=cache)] == [rig.url]
        gc = await idpkit.aio.source_gc(cache=cache, max_bytes=1)
        assert [e.path for e in gc.removed] == [first.path]
        assert await idpkit.aio.source_list(cache=cache) == []

        token = idpkit.CancelToken()
        token.cancel()
        with pytest.raises(idpkit.CancelledError):
            await idpkit.aio.source_fetch_artifact(
                rig.url, rig.digest, cache=cache, cancel=token, **rig.trust()
            )
        assert await idpkit.aio.source_list(cache=cache) == []

    asyncio.run(main())


# ---- git and Argo CD sources: the rig's git over HTTPS, its kube-apiserver ----


@dataclass(frozen=True)
class GitRig:
    """The rig's git http-backend behind nginx (basic auth, a certificate from the rig CA) and
    its fixture repository."""

    url: str
    git_dir: Path
    user: str
    password: str
    ca: Path

    def __repr__(self) -> str:  # the password stays out of test output
        return f"GitRig(url={self.url!r}, user={self.user!r})"

    def trust(self) -> dict[str, Any]:
        """The rig CA and nothing else: no platform roots, no certs.d."""
        return {"ca_files": [self.ca], "no_platform_roots": True, "certs_d": []}

    def commit(self, rev: str) -> str:
        out = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "rev-parse", f"{rev}^{{commit}}"],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


@pytest.fixture
def git_rig() -> GitRig:
    url = need("nginx", "IDPKIT_RIG_GIT_FIXTURE_HTTPS")
    need_listening("nginx", url)
    return GitRig(
        url=url,
        git_dir=Path(need("nginx", "IDPKIT_RIG_GIT_FIXTURE_DIR")),
        user=need("nginx", "IDPKIT_RIG_GIT_USER"),
        password=need("nginx", "IDPKIT_RIG_GIT_PASSWORD"),
        ca=need_file("nginx", "IDPKIT_RIG_CA"),
    )


def file_holding(root: Path, needle: str) -> Path | None:
    """The first file under ``root`` holding ``needle``: what someone reading the cache from
    the disk would find."""
    data = needle.encode()
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink() and data in p.read_bytes():
            return p
    return None


def test_git_over_https_with_a_password_then_a_hit(git_rig: GitRig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    creds: dict[str, Any] = {"username": git_rig.user, "password": git_rig.password}
    first = idpkit.source_fetch_git(git_rig.url, "develop", cache=cache, **creds, **git_rig.trust())
    assert isinstance(first, idpkit.SourceFetched)
    develop = git_rig.commit("develop")
    assert first.hit is False
    assert first.path.parent == cache / "git"
    assert (first.path / "DEVELOP.md").is_file()
    assert (first.source, first.url) == ("git", git_rig.url)
    assert first.revision == f"refs/heads/develop@sha1:{develop}"
    assert first.files > 0

    second = idpkit.source_fetch_git(
        git_rig.url, "develop", cache=cache, **creds, **git_rig.trust()
    )
    assert second.hit is True and second.path == first.path
    assert file_holding(cache, git_rig.password) is None, "the password is on disk"


def test_git_with_a_wrong_password_is_an_auth_error_without_it(
    git_rig: GitRig, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    wrong = "pw-wrong-py-4711"
    with pytest.raises(idpkit.AuthError) as err:
        idpkit.source_fetch_git(
            git_rig.url,
            "main",
            cache=cache,
            username=git_rig.user,
            password=wrong,
            **git_rig.trust(),
        )
    assert err.value.kind == idpkit.ErrorKind.AUTH
    assert git_rig.url in str(err.value)
    assert wrong not in f"{err.value} {err.value!r} {err.value.args}"
    assert idpkit.source_list(cache=cache) == []


def test_an_argo_application_gives_typed_sources_and_skips_helm(
    git_rig: GitRig, tmp_path: Path
) -> None:
    """A git source with a path and a Helm repository source; credentials from a
    ``repository`` Secret in a namespace of this test standing for Argo CD's."""
    kubeconfig = need_file("kube-apiserver", "IDPKIT_RIG_KUBECONFIG")
    ns = f"argocd-py-{os.getpid()}"
    app = f"py-argo-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    kube_apply(
        f"/api/v1/namespaces/{ns}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    )
    kube_apply(
        f"/api/v1/namespaces/{ns}/secrets/fixture",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "fixture",
                "namespace": ns,
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {
                "url": git_rig.url,
                "username": git_rig.user,
                "password": git_rig.password,
            },
        },
    )
    kube_apply(
        f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{app}",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "sources": [
                    {"repoURL": git_rig.url, "path": "log", "targetRevision": "main"},
                    {
                        "repoURL": "https://charts.example.invalid",
                        "chart": "nginx",
                        "targetRevision": "1.0.0",
                    },
                ],
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"},
            },
        },
    )

    cache = tmp_path / "cache"
    events: list[idpkit.Event] = []
    got = idpkit.source_fetch_argo(
        "argocd",
        app,
        cluster=idpkit.KubeOptions(kubeconfig=kubeconfig),
        argocd_namespace=ns,
        cache=cache,
        progress=events.append,
        **git_rig.trust(),
    )
    assert isinstance(got, idpkit.ArgoFetched)
    assert got.application == f"Application argocd/{app}"
    assert len(got.sources) == 2
    git, helm = got.sources
    assert isinstance(git, idpkit.ArgoSourceFetched)
    # `fetched` is the same typed SourceFetched a plain fetch gives, not a dict.
    assert isinstance(git.fetched, idpkit.SourceFetched)
    assert git.fetched.hit is False
    assert git.fetched.path.parent == cache / "argocd-repo" / "argocd" / app
    assert git.dir == git.fetched.path / "log" and isinstance(git.dir, Path)
    assert (git.dir / "001.txt").is_file()
    assert (git.index, git.repo_url, git.path) == (0, git_rig.url, "log")
    assert git.commit == git_rig.commit("main")
    assert git.credentials == f"Secret {ns}/fixture (repository)"
    assert git.skipped is None

    assert helm.index == 1
    assert helm.fetched is None and helm.dir is None and helm.commit is None
    assert helm.skipped is not None and "Helm" in helm.skipped
    warnings = [e for e in events if e["type"] == "warning"]
    assert any("charts.example.invalid" in str(e.get("message")) for e in warnings), events

    again = idpkit.source_fetch_argo(
        "argocd",
        app,
        cluster=idpkit.KubeOptions(kubeconfig=kubeconfig),
        argocd_namespace=ns,
        cache=cache,
        **git_rig.trust(),
    )
    hit = again.sources[0].fetched
    assert hit is not None and hit.hit is True and hit.path == git.fetched.path
    assert file_holding(cache, git_rig.password) is None, "the Secret's password is on disk"


def test_watch_argo_yields_each_synced_revision_and_break_cancels(
    git_rig: GitRig, tmp_path: Path
) -> None:
    """``idpkit.watch_argo``: the Application's git source at its synced revision, then again
    when Argo CD's status moves to another; leaving the loop ends the watch."""
    kubeconfig = need_file("kube-apiserver", "IDPKIT_RIG_KUBECONFIG")
    ns = f"argocd-pyw-{os.getpid()}"
    app = f"py-watch-argo-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    kube_apply(
        f"/api/v1/namespaces/{ns}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    )
    kube_apply(
        f"/api/v1/namespaces/{ns}/secrets/fixture",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "fixture",
                "namespace": ns,
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {
                "url": git_rig.url,
                "username": git_rig.user,
                "password": git_rig.password,
            },
        },
    )

    def synced(revision: str) -> None:
        kube_apply(
            f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{app}",
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": app, "namespace": "argocd"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": git_rig.url, "targetRevision": "main"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"},
                },
                "status": {"sync": {"revision": revision}},
            },
        )

    develop, main = git_rig.commit("develop"), git_rig.commit("main")
    synced(develop)
    seen: list[idpkit.SourceFetched] = []
    for fetched in idpkit.watch_argo(
        "argocd",
        app,
        cluster=idpkit.KubeOptions(kubeconfig=kubeconfig),
        argocd_namespace=ns,
        cache=tmp_path / "cache",
        **git_rig.trust(),
    ):
        assert isinstance(fetched, idpkit.SourceFetched)
        seen.append(fetched)
        if len(seen) == 1:
            synced(main)
        else:
            break
    assert [f.revision.rsplit(":", 1)[-1] for f in seen] == [develop, main]
    assert seen[0].path != seen[1].path
