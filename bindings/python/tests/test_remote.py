"""copy, catalog, delete, login and logout against the rig's registries.

Without the rig these tests fail, naming the missing peer. Every repository name is unique:
the rig's registries are shared with other suites.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import stat
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TypedDict

import pytest

import idpkit
import idpkit.aio
from idpkit import _idpkit

from .conftest import make_context
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


INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def multi_platform_index(
    store: idpkit.Store, tmp_path: Path, repo: str
) -> tuple[str, dict[str, idpkit.BuildResult]]:
    """Builds one image per platform (linux/amd64, linux/arm64), pushes them to ``repo:amd``
    and ``repo:arm`` of the plain registry, and PUTs an index of both as ``repo:multi``, as
    ``docker buildx`` or ``crane index append`` leave one. Returns the index's digest and the
    images by architecture."""
    built: dict[str, idpkit.BuildResult] = {}
    manifests = []
    for arch, tag in (("amd64", "amd"), ("arm64", "arm")):
        ctx = make_context(tmp_path / f"ctx-{arch}", {"arch": arch})
        image = store.build(
            ctx,
            tag=f"{repo}:{tag}",
            platform=f"linux/{arch}",
            env={"ARCH": arch},
            source_date_epoch=1_700_000_000,
        )
        store.push(f"{repo}:{tag}")
        built[arch] = image
        blob = store.path / "blobs" / "sha256" / image.digest.split(":", 1)[1]
        manifests.append(
            {
                "mediaType": MANIFEST,
                "digest": image.digest,
                "size": blob.stat().st_size,
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": manifests,
            "annotations": {"org.opencontainers.image.title": "multi"},
        }
    ).encode()
    host, path = repo.split("/", 1)
    put = urllib.request.Request(
        f"http://{host}/v2/{path}/manifests/multi",
        data=index,
        method="PUT",
        headers={"Content-Type": INDEX},
    )
    with urllib.request.urlopen(put, timeout=30) as response:
        assert response.status == 201
    return "sha256:" + hashlib.sha256(index).hexdigest(), built


def test_an_index_is_read_typed_and_copied_with_every_platform(
    store: idpkit.Store, tmp_path: Path, plain: str, tls: TlsRegistry
) -> None:
    repo = f"{plain}/{unique('index')}"
    index_digest, built = multi_platform_index(store, tmp_path, repo)
    amd, arm = built["amd64"], built["arm64"]

    # Read without pulling: the index itself, typed, and the chosen platform's documents.
    remote = idpkit.inspect_remote(f"{repo}:multi", platform="linux/arm64")
    assert remote.index_digest == index_digest
    assert remote.platforms == ("linux/amd64", "linux/arm64")
    index = remote.index
    assert isinstance(index, idpkit.ImageIndex)
    assert (index.schema_version, index.media_type) == (2, INDEX)
    assert index.annotations == {"org.opencontainers.image.title": "multi"}
    assert [m.digest for m in index.manifests] == [amd.digest, arm.digest]
    assert all(m.media_type == MANIFEST for m in index.manifests)
    platforms = [m.platform for m in index.manifests]
    assert platforms == [
        idpkit.Platform(os="linux", architecture="amd64"),
        idpkit.Platform(os="linux", architecture="arm64"),
    ]
    assert remote.digest == arm.digest
    assert remote.media_type == MANIFEST
    assert remote.config is not None and remote.config.architecture == "arm64"
    assert remote.manifest.config.digest == arm.config_digest
    assert remote.manifest.layers[0].digest == arm.layer.digest
    assert remote.manifest.layers[0].size == arm.layer.size
    # The documents stay out of the result's repr; each has its own.
    assert "manifests=" not in repr(remote) and "architecture='arm64'" in repr(remote.config)

    # The coroutine reads the same, here for the other platform.
    seen = asyncio.run(idpkit.aio.inspect_remote(f"{repo}:multi", platform="linux/amd64"))
    assert seen.index == index
    assert seen.digest == amd.digest
    assert seen.config is not None and seen.config.architecture == "amd64"
    assert seen.manifest.layers[0].digest == amd.layer.digest

    # Locally, the image's config is typed too.
    local = store.inspect(f"{repo}:arm").config
    assert local is not None and local.config is not None
    assert local.config.env is not None and "ARCH=arm64" in local.config.env
    assert local.created == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert local.rootfs.diff_ids == (arm.layer.diff_id,)
    assert local == remote.config

    # Across registries with all_platforms: the index byte for byte (the same digest), and
    # every platform's manifest.
    trust = tls_trust(tls, tmp_path)
    dst = f"{tls.host}/{unique('index-copy')}"
    copied = idpkit.copy(
        f"{repo}:multi",
        f"{dst}:all",
        all_platforms=True,
        username=tls.user,
        password=tls.password,
        **trust,
    )
    assert copied.reference == f"{dst}:all"
    assert copied.digest == index_digest
    there = idpkit.inspect_remote(
        f"{dst}:all", platform="linux/amd64", username=tls.user, password=tls.password, **trust
    )
    assert there.index_digest == index_digest and there.index == index
    for image in (amd, arm):
        child = idpkit.inspect_remote(
            f"{dst}@{image.digest}", username=tls.user, password=tls.password, **trust
        )
        assert child.digest == image.digest and child.index is None

    # Without it, one platform arrives, as its own manifest.
    one = idpkit.copy(
        f"{repo}:multi",
        f"{dst}:one",
        platform="linux/arm64",
        username=tls.user,
        password=tls.password,
        **trust,
    )
    assert one.digest == arm.digest

    # Pulled with every platform, the store tags the index.
    fresh = idpkit.Store(tmp_path / "fresh")
    pulled = fresh.pull(f"{repo}:multi", all_platforms=True)
    assert pulled.digest == pulled.index_digest == index_digest
    assert [(i.reference, i.media_type) for i in fresh.images()] == [(f"{repo}:multi", INDEX)]


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
