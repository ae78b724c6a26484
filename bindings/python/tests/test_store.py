"""Every public function of idpkit.Store, with a real store in a temporary directory."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import idpkit
from idpkit import _idpkit

from .conftest import make_context


def blobs(store: idpkit.Store) -> set[str]:
    return set(os.listdir(store.path / "blobs" / "sha256"))


def test_version() -> None:
    assert idpkit.__version__ == _idpkit.VERSION
    assert idpkit.__version__.count(".") == 2


def test_open_with_path_or_str(tmp_path: Path) -> None:
    a = idpkit.Store(tmp_path / "s")
    b = idpkit.Store(str(tmp_path / "s"))
    assert a == b
    assert hash(a) == hash(b)
    assert a.path == tmp_path / "s"
    assert isinstance(a.path, Path)
    assert repr(a) == f"Store({str(tmp_path / 's')!r})"
    assert (a.path / "oci-layout").is_file()
    assert (a.path / "index.json").is_file()


def test_default_store_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDPKIT_STORE", str(tmp_path / "default"))
    assert idpkit.Store().path == tmp_path / "default"
    assert idpkit.Store(None).images() == []


def test_open_refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(idpkit.InvalidInputError, match="not an OCI image layout") as err:
        idpkit.Store(tmp_path / "junk")
    assert err.value.kind is idpkit.ErrorKind.INVALID_INPUT
    assert isinstance(err.value, ValueError)
    assert os.listdir(tmp_path / "junk") == ["file.txt"]


def test_build(store: idpkit.Store, context: Path) -> None:
    result = store.build(
        context,
        tag="registry.local/team/app:dev",
        entrypoint=["/usr/bin/python3"],
        cmd=["/app/main.py"],
        env={"MODE": "prod", "PORT": "8080"},
        workdir="/app",
        user="1000:1000",
        labels={"team": "platform"},
        annotations={"org.opencontainers.image.source": "https://example.invalid/app"},
        excludes=["*.env"],
        source_date_epoch=1_700_000_000,
    )
    assert isinstance(result, idpkit.BuildResult)
    assert result.digest.startswith("sha256:")
    assert result.config_digest.startswith("sha256:")
    assert result.tags == ("registry.local/team/app:dev",)
    assert result.cached is False
    assert result.entries == 4  # app/, app/main.py, app/data.bin, README.md
    assert isinstance(result.layer, idpkit.LayerInfo)
    assert result.layer.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert result.size > result.layer.size > 0
    assert "digest='sha256:" in repr(result)

    info = store.inspect("registry.local/team/app:dev")
    assert info.config is not None
    cfg = info.config.config
    assert isinstance(cfg, idpkit.ContainerConfig)
    assert cfg.entrypoint == ("/usr/bin/python3",)
    assert cfg.cmd == ("/app/main.py",)
    assert cfg.env is not None and "MODE=prod" in cfg.env and "PORT=8080" in cfg.env
    assert cfg.working_dir == "/app"
    assert cfg.user == "1000:1000"
    assert cfg.labels == {"team": "platform"}
    # source_date_epoch 1_700_000_000 is the creation time, an aware datetime.
    assert info.config.created == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert info.config.rootfs.type == "layers"
    assert info.config.rootfs.diff_ids == (result.layer.diff_id,)
    assert info.config.history is not None and info.config.history[-1].created_by
    annotations = info.manifest.annotations
    assert annotations is not None
    assert annotations["org.opencontainers.image.source"] == "https://example.invalid/app"

    # The layer holds the context minus the excluded file, under the prefix.
    layer = store.path / "blobs" / "sha256" / result.layer.digest.split(":")[1]
    with tarfile.open(fileobj=gzip.open(layer)) as tar:
        names = {n.rstrip("/") for n in tar.getnames()}
    assert "app/main.py" in names or "./app/main.py" in names or "/app/main.py" in names
    assert not any(n.endswith("secret.env") for n in names)


def test_build_tag_forms_and_normalization(store: idpkit.Store, context: Path) -> None:
    r = store.build(context, tag=["app:one", "example.com/x/app:two"], tags=["app:three"])
    assert r.tags == (
        "docker.io/library/app:one",
        "example.com/x/app:two",
        "docker.io/library/app:three",
    )
    assert store.build(context).tags == ()


def test_build_prefix_platform_and_zstd(store: idpkit.Store, context: Path) -> None:
    r = store.build(
        context,
        tag="app:z",
        prefix="/srv/app",
        platform="linux/arm64",
        compression="zstd",
        level=10,
        threads=1,
    )
    assert r.layer.media_type == "application/vnd.oci.image.layer.v1.tar+zstd"
    cfg = store.inspect("app:z").config
    assert cfg is not None
    assert (cfg.os, cfg.architecture) == ("linux", "arm64")


def test_build_cache(store: idpkit.Store, context: Path) -> None:
    first = store.build(context, tag="app:1")
    second = store.build(context, tag="app:2")
    assert second.cached is True
    assert second.layer == first.layer
    third = store.build(context, tag="app:3", no_cache=True)
    assert third.cached is False
    assert third.layer == first.layer


def test_build_from_base(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    base = store.build(context, tag="base:1", env={"A": "1", "B": "base"})
    extra = make_context(tmp_path / "extra", {"extra.txt": "more\n"})
    child = store.build(extra, tag="child:1", from_="base:1", env={"B": "child"})
    manifest = store.inspect("child:1").manifest
    assert [layer.digest for layer in manifest.layers] == [
        base.layer.digest,
        child.layer.digest,
    ]
    config = store.inspect("child:1").config
    assert config is not None and config.config is not None
    env = config.config.env
    assert env is not None and "A=1" in env and "B=child" in env and "B=base" not in env
    assert config.rootfs.diff_ids == (base.layer.diff_id, child.layer.diff_id)
    with pytest.raises(idpkit.NotFoundError, match="nope:1"):
        store.build(extra, from_="nope:1")


def test_build_invalid_input(store: idpkit.Store, context: Path) -> None:
    with pytest.raises(idpkit.InvalidInputError, match="level"):
        store.build(context, level=42)
    with pytest.raises(idpkit.InvalidInputError, match=r"compression|unknown variant"):
        store.build(context, compression="brotli")  # type: ignore[arg-type]
    with pytest.raises(idpkit.InvalidInputError):
        store.build(context, tag="Not A Reference!")
    with pytest.raises(idpkit.InvalidInputError):
        store.build(context, platform="not/a/plat/form/really")
    with pytest.raises(TypeError, match="list of strings"):
        store.build(context, cmd="/app/main.py")
    with pytest.raises(TypeError, match="strings"):
        store.build(context, env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        store.build(context, bogus=True)  # type: ignore[call-arg]
    assert store.images() == []


def test_build_missing_context(store: idpkit.Store, tmp_path: Path) -> None:
    with pytest.raises(idpkit.NotFoundError) as err:
        store.build(tmp_path / "does-not-exist", tag="app:x")
    assert err.value.kind == "NOT_FOUND"
    assert isinstance(err.value, LookupError)
    assert str(tmp_path / "does-not-exist") in str(err.value)


def test_images(store: idpkit.Store, context: Path) -> None:
    assert store.images() == []
    r = store.build(context, tag=["app:1", "app:2"])
    images = store.images()
    assert [i.reference for i in images] == ["docker.io/library/app:1", "docker.io/library/app:2"]
    for i in images:
        assert isinstance(i, idpkit.ImageSummary)
        assert i.digest == r.digest
        assert i.size == r.size
        assert i.created == datetime(1970, 1, 1, tzinfo=timezone.utc)
        assert i.media_type == "application/vnd.oci.image.manifest.v1+json"


def test_tag(store: idpkit.Store, context: Path) -> None:
    r = store.build(context, tag="app:1")
    summary = store.tag("app:1", "example.com/app:release")
    assert summary.reference == "example.com/app:release"
    assert summary.digest == r.digest
    assert store.tag(r.digest, "app:by-digest").digest == r.digest
    assert {i.reference for i in store.images()} == {
        "docker.io/library/app:1",
        "example.com/app:release",
        "docker.io/library/app:by-digest",
    }
    with pytest.raises(idpkit.NotFoundError):
        store.tag("missing:1", "app:2")
    with pytest.raises(idpkit.InvalidInputError, match="tag"):
        store.tag("app:1", f"app@{r.digest}")


def test_remove(store: idpkit.Store, context: Path) -> None:
    r = store.build(context, tag=["app:1", "app:2", "app:3"])
    assert store.remove("app:1") == ["docker.io/library/app:1"]
    assert sorted(store.remove(r.digest)) == ["docker.io/library/app:2", "docker.io/library/app:3"]
    assert store.images() == []
    with pytest.raises(idpkit.NotFoundError):
        store.remove("app:1")


def test_inspect(store: idpkit.Store, context: Path) -> None:
    r = store.build(context, tag="app:1")
    by_tag = store.inspect("app:1")
    by_digest = store.inspect(r.digest)
    assert isinstance(by_tag, idpkit.ImageInspect)
    assert by_tag.reference == "docker.io/library/app:1"
    assert by_tag.digest == r.digest == by_digest.digest
    assert by_tag.manifest == by_digest.manifest
    manifest = by_tag.manifest
    assert isinstance(manifest, idpkit.ImageManifest)
    assert manifest.schema_version == 2
    assert manifest.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert manifest.config.media_type == "application/vnd.oci.image.config.v1+json"
    assert manifest.config.digest == r.config_digest
    assert [layer.digest for layer in manifest.layers] == [r.layer.digest]
    assert manifest.layers[0].media_type == r.layer.media_type
    assert manifest.layers[0].size == r.layer.size
    assert isinstance(by_tag.config, idpkit.ImageConfig)
    assert by_tag.config.rootfs.diff_ids == (r.layer.diff_id,)
    assert by_tag.config.os == "linux"
    # The repr stays short: the documents are left out.
    assert "manifest" not in repr(by_tag) and r.digest in repr(by_tag)
    hash(by_tag)
    with pytest.raises(idpkit.NotFoundError):
        store.inspect("app:2")
    with pytest.raises(idpkit.InvalidInputError):
        store.inspect("UPPER CASE")


def test_gc(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    store.build(context, tag="keep:1")
    before = blobs(store)
    other = make_context(tmp_path / "other", {"other.txt": "other\n"})
    store.build(other, tag="drop:1")
    assert blobs(store) > before
    store.remove("drop:1")
    report = store.gc()
    assert isinstance(report, idpkit.GcReport)
    assert report.removed_blobs == 3  # layer, config, manifest
    assert report.freed_bytes > 0
    assert blobs(store) == before
    assert store.gc() == idpkit.GcReport(removed_blobs=0, freed_bytes=0)
    store.inspect("keep:1")


def test_export_and_import(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    r = store.build(context, tag="app:1.0")
    layout = tmp_path / "layout"
    exported = store.export("app:1.0", layout)
    assert exported.reference == "1.0"
    assert exported.digest == r.digest
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert store.export("app:1.0", str(layout), tag="stable").reference == "stable"

    other = idpkit.Store(tmp_path / "other")
    imported = other.import_layout(layout)
    assert sorted(i.reference or "" for i in imported) == [
        "localhost/layout:1.0",
        "localhost/layout:stable",
    ]
    assert {i.digest for i in imported} == {r.digest}

    named = other.import_layout(str(layout), tag="stable", name="example.com/team/app:v1")
    assert [i.reference for i in named] == ["example.com/team/app:v1"]
    assert other.inspect("example.com/team/app:v1").manifest == store.inspect("app:1.0").manifest

    with pytest.raises(idpkit.NotFoundError, match="nope"):
        other.import_layout(layout, tag="nope")
    with pytest.raises(idpkit.InvalidInputError):
        other.import_layout(layout, name="x/y:z")
    with pytest.raises(idpkit.NotFoundError):
        store.export("missing:1", tmp_path / "l2")
    with pytest.raises(idpkit.NotFoundError, match="no-layout-here"):
        other.import_layout(tmp_path / "no-layout-here")


def write_layout(root: Path, config: dict[str, object]) -> None:
    """An OCI layout of one image with ``config``, as another tool (buildah, skopeo) leaves
    it: the layer and config blobs, the manifest, ``index.json`` tagging it ``v1``."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> tuple[str, int]:
        hex_digest = hashlib.sha256(data).hexdigest()
        (blobs / hex_digest).write_bytes(data)
        return f"sha256:{hex_digest}", len(data)

    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        t.addfile(info, io.BytesIO(b"hello\n"))
    diff_id = "sha256:" + hashlib.sha256(tar.getvalue()).hexdigest()
    layer, layer_size = blob(gzip.compress(tar.getvalue(), mtime=0))
    config = {**config, "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer,
                "size": layer_size,
                "annotations": {"org.opencontainers.image.title": "hello.txt"},
            }
        ],
    }
    digest, size = blob(json.dumps(manifest).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))


def test_inspect_types_a_config_made_by_another_tool(store: idpkit.Store, tmp_path: Path) -> None:
    """Every field of the image spec's config arrives typed under its snake_case name: maps of
    empty objects (``ExposedPorts``, ``Volumes``) as dicts, times with nanoseconds and an
    offset as aware datetimes, the dotted ``os.version``."""
    write_layout(
        tmp_path / "layout",
        {
            "created": "2024-05-06T07:08:09.123456789+02:00",
            "author": "someone",
            "architecture": "arm",
            "variant": "v7",
            "os": "linux",
            "os.version": "6.1",
            "os.features": ["seccomp"],
            "config": {
                "User": "1000",
                "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
                "Env": ["PATH=/usr/bin", "MODE=prod"],
                "Entrypoint": ["/bin/app"],
                "Cmd": ["--serve"],
                "Volumes": {"/data": {}},
                "WorkingDir": "/srv",
                "Labels": {"team": "platform"},
                "StopSignal": "SIGTERM",
            },
            "history": [
                {"created": "2024-05-06T07:08:09Z", "created_by": "COPY hello.txt /"},
                {"created_by": "CMD --serve", "empty_layer": True, "comment": "no layer"},
            ],
        },
    )
    store.import_layout(tmp_path / "layout", name="example.com/other:v1")
    info = store.inspect("example.com/other:v1")
    config = info.config
    assert config is not None
    assert (config.os, config.architecture, config.variant) == ("linux", "arm", "v7")
    assert (config.os_version, config.os_features) == ("6.1", ("seccomp",))
    assert config.author == "someone"
    assert config.created == datetime(2024, 5, 6, 5, 8, 9, 123456, tzinfo=timezone.utc)
    assert config.created is not None and config.created.utcoffset() == timedelta(hours=2)
    assert config.config == idpkit.ContainerConfig(
        user="1000",
        exposed_ports={"8080/tcp": {}, "53/udp": {}},
        env=("PATH=/usr/bin", "MODE=prod"),
        entrypoint=("/bin/app",),
        cmd=("--serve",),
        volumes={"/data": {}},
        working_dir="/srv",
        labels={"team": "platform"},
        stop_signal="SIGTERM",
    )
    assert config.history == (
        idpkit.History(
            created=datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
            created_by="COPY hello.txt /",
        ),
        idpkit.History(created_by="CMD --serve", empty_layer=True, comment="no layer"),
    )
    assert config.rootfs.type == "layers" and len(config.rootfs.diff_ids) == 1
    layer = info.manifest.layers[0]
    assert layer.annotations == {"org.opencontainers.image.title": "hello.txt"}
    assert layer.platform is None and layer.urls is None
    # The documents hold dicts, yet the result stays hashable (a dict is left out of the hash).
    assert hash(info) == hash(store.inspect("example.com/other:v1"))


def test_results_are_frozen(store: idpkit.Store, context: Path) -> None:
    r = store.build(context, tag="app:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.digest = "x"  # type: ignore[misc]
    assert r == dataclasses.replace(r)
    assert hash(r) == hash(dataclasses.replace(r))


def test_result_fields_match_the_core(store: idpkit.Store, context: Path) -> None:
    """Every field of a core result arrives in its dataclass (they are generated from the
    contract; this checks the contract against what the built core really returns)."""
    native = store._native
    options = json.dumps({"context": str(context), "tags": ["app:1"]})
    build = json.loads(_idpkit.call("build", native, options))
    expected = {
        idpkit.BuildResult: build,
        idpkit.LayerInfo: build["layer"],
        idpkit.ImageSummary: json.loads(_idpkit.call("images", native))[0],
        idpkit.ImageInspect: json.loads(_idpkit.call("inspect", native, '{"reference": "app:1"}')),
        idpkit.GcReport: json.loads(_idpkit.call("gc", native)),
        idpkit.ClusterOptions: idpkit.resolve_options("trust_extract"),
    }
    for cls, doc in expected.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(doc), cls.__name__

    # The OCI documents keep the image spec's JSON names (``mediaType``, ``Env``, ``os.version``);
    # each becomes a snake_case attribute. The core leaves out unset optional fields.
    def attribute(name: str) -> str:
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace(".", "_").lower()

    inspected = expected[idpkit.ImageInspect]
    documents = {
        idpkit.ImageManifest: inspected["manifest"],
        idpkit.Descriptor: inspected["manifest"]["config"],
        idpkit.ImageConfig: inspected["config"],
        idpkit.ContainerConfig: inspected["config"]["config"],
        idpkit.RootFs: inspected["config"]["rootfs"],
        idpkit.History: inspected["config"]["history"][0],
    }
    for cls, doc in documents.items():
        assert {attribute(k) for k in doc} <= {f.name for f in dataclasses.fields(cls)}, cls
    assert {"mediaType", "schemaVersion", "config", "layers"} <= set(inspected["manifest"])
    assert {"created", "architecture", "os", "rootfs"} <= set(inspected["config"])


def test_store_as_a_context_manager(tmp_path: Path, context: Path) -> None:
    with idpkit.Store(tmp_path / "s") as store:
        assert not store.closed
        store.build(context, tag="app:1")
    assert store.closed
    assert repr(store) == f"Store({str(tmp_path / 's')!r}, closed)"
    assert store.path == tmp_path / "s"  # still known, for messages
    closed = r"is closed; open it again with idpkit\.Store\("
    with pytest.raises(idpkit.InvalidInputError, match=closed) as e:
        store.images()
    assert isinstance(e.value, ValueError)
    with pytest.raises(idpkit.InvalidInputError, match="closed"), store:
        pass
    store.close()  # twice is harmless
    # An exception in the block still closes it, and propagates.
    with pytest.raises(RuntimeError, match="inside"), idpkit.Store(tmp_path / "s") as again:
        raise RuntimeError("inside")
    assert again.closed
    # The image it built is there for the next one.
    with idpkit.Store(tmp_path / "s") as reopened:
        assert [i.reference for i in reopened.images()] == ["docker.io/library/app:1"]


def test_times_parse_as_rfc_3339_from_any_tool() -> None:
    from idpkit._util import _parse_time

    # Other tools write nanoseconds and offsets; Python 3.9's fromisoformat takes neither.
    t = _parse_time("2024-05-06T07:08:09.123456789Z")
    assert t == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    utc = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert _parse_time("2024-05-06T09:08:09+02:00") == utc
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        _parse_time("yesterday")
