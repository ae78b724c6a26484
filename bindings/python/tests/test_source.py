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
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import idpkit
import idpkit.aio

from .rig import host_port, need, need_file, need_listening


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
