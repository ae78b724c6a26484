"""copy, catalog, delete, login and logout against the rig's registries.

Without the rig these tests fail, naming the missing peer. Every repository name is unique:
the rig's registries are shared with other suites.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import uuid
from pathlib import Path
from typing import TypedDict

import pytest

import idpkit
from idpkit import _idpkit

from .rig import TlsRegistry, assert_no_secret, plain_registry, tls_registry


def unique(prefix: str) -> str:
    return f"pytest/{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def plain() -> str:
    return plain_registry()


@pytest.fixture
def tls() -> TlsRegistry:
    return tls_registry()


class Trust(TypedDict):
    ca_files: list[idpkit.StrPath]
    certs_d: list[idpkit.StrPath]


def tls_trust(tls: TlsRegistry, tmp_path: Path) -> Trust:
    """Trust keywords for the TLS registry: the rig CA, and no stray certs.d."""
    return {"ca_files": [tls.ca], "certs_d": [tmp_path / "no-certs.d"]}


def test_copy_within_a_registry_mounts_blobs(
    store: idpkit.Store, context: Path, plain: str
) -> None:
    src = f"{plain}/{unique('copy-src')}"
    dst = f"{plain}/{unique('copy-dst')}"
    built = store.build(context, tag=f"{src}:1")
    store.push(f"{src}:1")

    events: list[idpkit.Event] = []
    copied = idpkit.copy(f"{src}:1", f"{dst}:1", progress=events.append)
    assert isinstance(copied, idpkit.PushResult)
    assert copied.reference == f"{dst}:1"
    assert copied.digest == built.digest
    assert copied.blobs_mounted == 2  # layer and config, linked instead of uploaded
    assert copied.blobs_uploaded == 0 and copied.bytes_uploaded == 0
    mounted = [e for e in events if e["type"] == "blob_mounted"]
    assert len(mounted) == 2
    assert {e["from"] for e in mounted} == {src.split("/", 1)[1]}
    assert idpkit.list_tags(dst) == ["1"]

    # In the same repository, a copy re-tags: every blob is already there.
    retagged = idpkit.copy(f"{src}:1", f"{src}:stable")
    assert retagged.digest == built.digest
    assert (retagged.blobs_mounted, retagged.blobs_skipped, retagged.blobs_uploaded) == (0, 2, 0)
    assert sorted(idpkit.list_tags(src)) == ["1", "stable"]

    with pytest.raises(idpkit.NotFoundError):
        idpkit.copy(f"{src}:missing", f"{dst}:2")


def test_copy_across_registries_keeps_the_digest(
    store: idpkit.Store, context: Path, tmp_path: Path, plain: str, tls: TlsRegistry
) -> None:
    name = unique("copy-across")
    built = store.build(context, tag=f"{plain}/{name}:1")
    store.push(f"{plain}/{name}:1")

    copied = idpkit.copy(
        f"{plain}/{name}:1",
        f"{tls.host}/{name}:1",
        username=tls.user,
        password=tls.password,
        **tls_trust(tls, tmp_path),
    )
    assert copied.reference == f"{tls.host}/{name}:1"
    assert copied.digest == built.digest
    assert copied.blobs_uploaded == 2

    other = idpkit.Store(tmp_path / "other")
    pulled = other.pull(
        f"{tls.host}/{name}:1",
        username=tls.user,
        password=tls.password,
        **tls_trust(tls, tmp_path),
    )
    assert pulled.digest == built.digest
    assert other.inspect(pulled.reference).manifest == store.inspect(f"{plain}/{name}:1").manifest

    # Back, reading the source with its own credentials (the destination needs none).
    back = f"{plain}/{unique('copy-back')}:1"
    with pytest.raises(idpkit.AuthError):
        idpkit.copy(f"{tls.host}/{name}:1", back, attempts=1, **tls_trust(tls, tmp_path))
    returned = idpkit.copy(
        f"{tls.host}/{name}:1",
        back,
        source_username=tls.user,
        source_password=tls.password,
        **tls_trust(tls, tmp_path),
    )
    assert returned.reference == back
    assert returned.digest == built.digest


def test_inspect_remote_reads_what_was_pushed_without_pulling(
    store: idpkit.Store, context: Path, tmp_path: Path, tls: TlsRegistry, leak_guard: list[str]
) -> None:
    trust = tls_trust(tls, tmp_path)
    repo = f"{tls.host}/{unique('inspect-remote')}"
    store.build(context, tag=f"{repo}:1")
    pushed = store.push(f"{repo}:1", username=tls.user, password=tls.password, **trust)
    local = store.inspect(f"{repo}:1")

    # A fresh store stays empty: the call needs no store and writes none.
    fresh = idpkit.Store(tmp_path / "fresh")
    remote = idpkit.inspect_remote(f"{repo}:1", username=tls.user, password=tls.password, **trust)
    assert isinstance(remote, idpkit.RemoteInspect)
    assert remote.reference == f"{repo}:1"
    assert remote.digest == pushed.digest == local.digest
    assert remote.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert remote.manifest == local.manifest
    assert remote.config == local.config
    assert remote.index_digest is None
    assert remote.platforms == ()
    assert fresh.images() == []
    assert_no_secret(repr(remote), "RemoteInspect")

    with pytest.raises(idpkit.AuthError) as err:
        idpkit.inspect_remote(f"{repo}:1", attempts=1, **trust)
    assert err.value.kind == "AUTH"
    assert tls.host in str(err.value)
    assert tls.password not in str(err.value) and tls.password not in repr(err.value)
    assert str(err.value) in leak_guard  # the guard checked it for every rig secret too


def test_catalog_lists_a_freshly_pushed_repository(
    store: idpkit.Store, context: Path, plain: str
) -> None:
    name = unique("catalog")
    store.build(context, tag=f"{plain}/{name}:1")
    assert name not in idpkit.catalog(plain)
    store.push(f"{plain}/{name}:1")
    repositories = idpkit.catalog(plain)
    assert name in repositories
    assert all(isinstance(r, str) for r in repositories)
    # A reference or URL names the same registry.
    assert name in idpkit.catalog(f"http://{plain}/")


def test_delete_by_tag_and_by_digest(
    store: idpkit.Store, context: Path, tmp_path: Path, plain: str
) -> None:
    repo = f"{plain}/{unique('delete')}"
    built = store.build(context, tag=f"{repo}:1")
    store.push(f"{repo}:1")

    assert idpkit.delete(f"{repo}:1") == built.digest
    other = idpkit.Store(tmp_path / "other")
    with pytest.raises(idpkit.NotFoundError):
        other.pull(f"{repo}:1")
    with pytest.raises(idpkit.NotFoundError, match="no such tag"):
        idpkit.delete(f"{repo}:1")

    store.push(f"{repo}:1", f"{repo}:2")
    assert idpkit.delete(f"{repo}@{built.digest}") == built.digest
    with pytest.raises(idpkit.NotFoundError):
        other.pull(f"{repo}:2")
    assert other.images() == []


def test_cancelled_copy_catalog_delete_login(
    store: idpkit.Store, context: Path, plain: str, tls: TlsRegistry, tmp_path: Path
) -> None:
    repo = f"{plain}/{unique('cancel')}"
    store.build(context, tag=f"{repo}:1")
    store.push(f"{repo}:1")
    token = idpkit.CancelToken()
    token.cancel()
    with pytest.raises(idpkit.CancelledError):
        idpkit.copy(f"{repo}:1", f"{repo}:2", cancel=token)
    with pytest.raises(idpkit.CancelledError):
        idpkit.catalog(plain, cancel=token)
    with pytest.raises(idpkit.CancelledError):
        idpkit.delete(f"{repo}:1", cancel=token)
    with pytest.raises(idpkit.CancelledError):
        idpkit.list_tags(repo, cancel=token)
    with pytest.raises(idpkit.CancelledError):
        idpkit.login(
            tls.host,
            username=tls.user,
            password=tls.password,
            cancel=token,
            **tls_trust(tls, tmp_path),
        )
    assert idpkit.list_tags(repo) == ["1"]  # nothing was copied or deleted
    assert not (tmp_path / "docker-config" / "config.json").exists()


def test_copy_progress_error_propagates(store: idpkit.Store, context: Path, plain: str) -> None:
    repo = f"{plain}/{unique('copy-cb')}"
    store.build(context, tag=f"{repo}:1")
    store.push(f"{repo}:1")

    def broken(event: idpkit.Event) -> None:
        raise RuntimeError("callback broke")

    with pytest.raises(RuntimeError, match="callback broke"):
        idpkit.copy(f"{repo}:1", f"{plain}/{unique('copy-cb-dst')}:1", progress=broken)


def test_login_stores_credentials_for_later_calls(
    store: idpkit.Store, context: Path, tmp_path: Path, tls: TlsRegistry
) -> None:
    trust = tls_trust(tls, tmp_path)
    repo = f"{tls.host}/{unique('login')}"
    store.build(context, tag=f"{repo}:1")
    with pytest.raises(idpkit.AuthError):
        store.push(f"{repo}:1", attempts=1, **trust)  # nobody logged in yet

    result = idpkit.login(tls.host, username=tls.user, password=tls.password, **trust)
    config = tmp_path / "docker-config" / "config.json"  # $DOCKER_CONFIG (conftest)
    assert result == idpkit.LoginResult(registry=tls.host, username=tls.user, stored_in=str(config))
    assert tls.host in json.loads(config.read_text())["auths"]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert_no_secret(repr(result), "LoginResult")

    # No credentials given: the stored ones are used.
    pushed = store.push(f"{repo}:1", **trust)
    assert pushed.blobs_uploaded == 2
    assert idpkit.list_tags(repo, **trust) == ["1"]


def test_login_into_registry_auth_file(
    tmp_path: Path, tls: TlsRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth_file = tmp_path / "containers" / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    r = idpkit.login(
        f"https://{tls.host}", username=tls.user, password=tls.password, **tls_trust(tls, tmp_path)
    )
    assert r.registry == tls.host
    assert r.stored_in == str(auth_file)
    assert tls.host in json.loads(auth_file.read_text())["auths"]
    assert not (tmp_path / "docker-config" / "config.json").exists()


def test_login_with_a_wrong_password(
    tmp_path: Path, tls: TlsRegistry, leak_guard: list[str]
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(idpkit.AuthError) as err:
        idpkit.login(
            tls.host, username=tls.user, password=wrong, attempts=1, **tls_trust(tls, tmp_path)
        )
    message = str(err.value)
    assert err.value.kind == "AUTH"
    assert tls.host in message and tls.user in message
    assert wrong not in message and wrong not in repr(err.value)
    assert_no_secret(message, "the AuthError")
    assert message in leak_guard  # the guard saw it too
    assert not (tmp_path / "docker-config" / "config.json").exists()

    with pytest.raises(idpkit.InvalidInputError, match="password"):
        idpkit.login(tls.host, username=tls.user, password="")
    with pytest.raises(TypeError) as type_err:
        idpkit.login(tls.host, username=tls.user, password=wrong.encode())  # type: ignore[arg-type]
    assert wrong not in str(type_err.value)


def test_logout(store: idpkit.Store, context: Path, tmp_path: Path, tls: TlsRegistry) -> None:
    trust = tls_trust(tls, tmp_path)
    assert idpkit.logout(tls.host) is False
    idpkit.login(tls.host, username=tls.user, password=tls.password, **trust)
    assert idpkit.logout(tls.host) is True
    assert idpkit.logout(tls.host) is False
    config = tmp_path / "docker-config" / "config.json"
    assert tls.host not in json.loads(config.read_text()).get("auths", {})

    repo = f"{tls.host}/{unique('logout')}"
    store.build(context, tag=f"{repo}:1")
    with pytest.raises(idpkit.AuthError):
        store.push(f"{repo}:1", attempts=1, **trust)


def test_registry_results_match_the_core(
    store: idpkit.Store, context: Path, tmp_path: Path, plain: str, tls: TlsRegistry
) -> None:
    """Every field of a core registry result arrives in its dataclass."""
    repo = f"{plain}/{unique('fields')}"
    store.build(context, tag=f"{repo}:1")
    pushed = json.loads(_idpkit.call("push", store._native, json.dumps({"source": f"{repo}:1"})))
    copied = json.loads(
        _idpkit.call("copy", None, json.dumps({"source": f"{repo}:1", "destination": f"{repo}:2"}))
    )
    other = idpkit.Store(tmp_path / "other")._native
    pulled = json.loads(_idpkit.call("pull", other, json.dumps({"reference": f"{repo}:1"})))
    trust = {"host": tls.host, "ca_files": [os.fspath(tls.ca)], "certs_d": []}
    login = json.loads(_idpkit.call("login", None, json.dumps(trust), tls.user, tls.password))
    for cls, doc in {
        idpkit.PushResult: pushed,
        idpkit.PullResult: pulled,
        idpkit.LoginResult: login,
    }.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(doc), cls.__name__
    assert set(copied) == set(pushed)
