"""idpkit.aio: the operations as coroutines, cancelled with their task."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import idpkit
import idpkit.aio

from .conftest import make_context


def blobs(store: idpkit.aio.Store) -> list[str]:
    return sorted(os.listdir(store.path / "blobs" / "sha256"))


def tmp_files(store: idpkit.aio.Store) -> list[str]:
    """What the core still holds half-written; it may take a moment to go after a cancel."""
    tmp = store.path / ".idpkit" / "tmp"
    deadline = time.monotonic() + 10
    while tmp.exists() and os.listdir(tmp) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.listdir(tmp) if tmp.exists() else []


@pytest.fixture
def astore(tmp_path: Path) -> Iterator[idpkit.aio.Store]:
    with idpkit.aio.Store(tmp_path / "store") as store:
        yield store


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """A ``host:port`` whose connections are accepted and never answered."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        yield f"127.0.0.1:{srv.getsockname()[1]}"


def test_every_operation_is_a_coroutine_with_the_same_signature() -> None:
    assert set(idpkit.aio.__all__) == set(idpkit._ops.__all__) | {"Store"}
    for name in idpkit._ops.__all__:
        blocking, coroutine = getattr(idpkit, name), getattr(idpkit.aio, name)
        assert inspect.iscoroutinefunction(coroutine), name
        assert inspect.signature(coroutine) == inspect.signature(blocking), name
        assert coroutine.__module__ == "idpkit.aio"
        assert coroutine.__doc__ and "asyncio" not in blocking.__doc__
    methods = [n for n, v in vars(idpkit._ops._StoreOperations).items() if inspect.isfunction(v)]
    assert "build" in methods and "pull" in methods
    for name in methods:
        coroutine = getattr(idpkit.aio.Store, name)
        assert inspect.iscoroutinefunction(coroutine), name
        assert inspect.signature(coroutine) == inspect.signature(getattr(idpkit.Store, name))
    assert "CancelledError" in (idpkit.aio.Store.build.__doc__ or "")
    assert dir(idpkit.aio) == sorted(idpkit.aio.__all__)
    assert repr(idpkit.aio.Store) == "<class 'idpkit.aio.Store'>"


def test_build_and_store_operations(astore: idpkit.aio.Store, context: Path) -> None:
    async def main() -> tuple[idpkit.BuildResult, list[idpkit.ImageSummary]]:
        result = await astore.build(context, tag="app:1", env={"MODE": "prod"})
        await astore.tag("app:1", "app:2")
        return result, await astore.images()

    result, images = asyncio.run(main())
    assert isinstance(result, idpkit.BuildResult)
    assert result.tags == ("docker.io/library/app:1",)
    assert {i.reference for i in images} == {"docker.io/library/app:1", "docker.io/library/app:2"}
    # The same store, opened blocking, sees it.
    assert idpkit.Store(astore.path).inspect("app:2").digest == result.digest


def test_errors_are_idpkits(astore: idpkit.aio.Store, context: Path) -> None:
    with pytest.raises(idpkit.NotFoundError, match="nope"):
        asyncio.run(astore.inspect("nope:1"))
    with pytest.raises(idpkit.InvalidInputError, match="compression"):
        asyncio.run(astore.build(context, compression="brotli"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cancel"):
        asyncio.run(astore.build(context, cancel="yes"))  # type: ignore[arg-type]


def test_the_loop_keeps_turning(astore: idpkit.aio.Store, big_context: Path) -> None:
    async def main() -> tuple[int, float]:
        ticks = 0
        done = False

        async def tick() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        await astore.build(big_context, tag="big:loop", no_cache=True, level=1)
        elapsed = time.monotonic() - started
        done = True
        await ticker
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    assert elapsed > 0.2, "the build was too quick to tell"
    assert ticks > 50 * elapsed, (ticks, elapsed)


def test_progress_runs_on_the_loop_thread(astore: idpkit.aio.Store, context: Path) -> None:
    events: list[idpkit.Event] = []
    threads: set[int] = set()

    def on_event(event: idpkit.Event) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    result = asyncio.run(astore.build(context, tag="app:1", progress=on_event))
    assert events[0] == {"type": "build_started", "context": str(context)}
    stored = {"type": "image_stored", "digest": result.digest, "tags": list(result.tags)}
    assert events[-1] == stored
    assert threads == {threading.get_ident()}


def test_progress_exception_propagates(astore: idpkit.aio.Store, context: Path) -> None:
    before = blobs(astore)

    def broken(event: idpkit.Event) -> None:
        raise RuntimeError(f"callback failed on {event['type']}")

    with pytest.raises(RuntimeError, match="callback failed on build_started"):
        asyncio.run(astore.build(context, tag="app:1", progress=broken))
    assert asyncio.run(astore.images()) == []
    assert blobs(astore) == before


def test_task_cancel_stops_a_large_build(astore: idpkit.aio.Store, big_context: Path) -> None:
    """task.cancel() during a large build: CancelledError within a second, nothing stored."""
    before = blobs(astore)

    async def main() -> float:
        reading = asyncio.Event()

        def on_event(event: idpkit.Event) -> None:
            if event["type"] == "layer_progress":
                reading.set()

        task = asyncio.ensure_future(
            astore.build(big_context, tag="big:cancel", no_cache=True, progress=on_event)
        )
        await asyncio.wait_for(reading.wait(), timeout=60)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled_at

    took = asyncio.run(main())
    assert took < 1.0, took
    assert asyncio.run(astore.images()) == []
    assert blobs(astore) == before
    assert tmp_files(astore) == []


def test_timeout_stops_a_pull_from_a_silent_registry(
    astore: idpkit.aio.Store, silent_registry: str
) -> None:
    """asyncio.wait_for (asyncio.timeout alike) on a pull that hangs: TimeoutError promptly."""
    token = idpkit.CancelToken()

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                astore.pull(f"{silent_registry}/a/app:1", cancel=token), timeout=0.3
            )
        return time.monotonic() - started

    took = asyncio.run(main())
    assert took < 1.3, took
    assert token.cancelled  # the caller's token is cancelled with the task
    assert asyncio.run(astore.images()) == []
    assert blobs(astore) == []


def test_task_cancel_stops_a_hanging_registry_call(silent_registry: str) -> None:
    async def main() -> float:
        task = asyncio.ensure_future(idpkit.aio.list_tags(f"{silent_registry}/a/app"))
        await asyncio.sleep(0.2)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled_at

    assert asyncio.run(main()) < 1.0


def test_a_cancel_token_still_raises_idpkits_error(silent_registry: str) -> None:
    async def main() -> None:
        token = idpkit.CancelToken()
        asyncio.get_running_loop().call_later(0.2, token.cancel)
        await idpkit.aio.catalog(silent_registry, cancel=token)

    with pytest.raises(idpkit.CancelledError):
        asyncio.run(main())


def test_async_with_closes_the_store(tmp_path: Path) -> None:
    ctx = make_context(tmp_path / "ctx", {"a.txt": "a\n"})

    async def main() -> idpkit.aio.Store:
        async with idpkit.aio.Store(tmp_path / "store") as store:
            await store.build(ctx, tag="app:1")
        return store

    store = asyncio.run(main())
    assert store.closed
    with pytest.raises(idpkit.InvalidInputError, match=r"closed; open it again with idpkit\.aio"):
        asyncio.run(store.images())
