"""Threads, the GIL, fork, cancellation, Ctrl-C and progress callbacks."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

import idpkit

from .conftest import make_context


def blobs(store: idpkit.Store) -> list[str]:
    return sorted(os.listdir(store.path / "blobs" / "sha256"))


def test_four_threads_build_into_one_store(store: idpkit.Store, tmp_path: Path) -> None:
    contexts = [
        make_context(tmp_path / f"ctx{i}", {f"file{i}.bin": os.urandom(512 * 1024)})
        for i in range(4)
    ]
    results: dict[int, idpkit.BuildResult] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = store.build(contexts[i], tag=f"app:t{i}", no_cache=True)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.digest for r in results.values()}) == 4
    refs = {i.reference for i in store.images()}
    assert refs == {f"docker.io/library/app:t{i}" for i in range(4)}
    for i, r in results.items():
        assert store.inspect(f"app:t{i}").digest == r.digest


def test_build_releases_the_gil(store: idpkit.Store, big_context: Path) -> None:
    """Another Python thread keeps running while a build works."""
    ticks = 0
    running = True

    def count() -> None:
        nonlocal ticks
        while running:
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.05)
        before = ticks
        started = time.monotonic()
        store.build(big_context, tag="big:gil", no_cache=True, level=1)
        elapsed = time.monotonic() - started
        during = ticks - before
    finally:
        running = False
        counter.join()
    assert elapsed > 0.2, "the build was too quick to tell"
    # A held GIL would leave the counter at (almost) zero for the whole build.
    assert during > 50 * elapsed, (during, elapsed)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_can_build(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    store.build(context, tag="app:parent")
    child_ctx = make_context(tmp_path / "child", {"child.txt": "from the child\n"})
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            r = idpkit.Store(store.path).build(child_ctx, tag="app:child")
            code = 0 if r.tags == ("docker.io/library/app:child",) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert {i.reference for i in store.images()} == {
        "docker.io/library/app:parent",
        "docker.io/library/app:child",
    }
    # The parent still works after the fork.
    assert store.build(child_ctx, tag="app:after").cached is True


def test_cancel_token(store: idpkit.Store, context: Path) -> None:
    token = idpkit.CancelToken()
    assert token.cancelled is False
    token.cancel()
    assert token.cancelled is True
    assert "cancelled=True" in repr(token)
    before = blobs(store)
    with pytest.raises(idpkit.CancelledError) as err:
        store.build(context, tag="app:1", cancel=token)
    assert err.value.kind == idpkit.ErrorKind.CANCELLED
    assert store.images() == []
    assert blobs(store) == before


def test_cancel_from_another_thread(store: idpkit.Store, big_context: Path) -> None:
    token = idpkit.CancelToken()
    before = blobs(store)

    def on_event(event: idpkit.Event) -> None:
        if event["type"] == "layer_progress":
            threading.Thread(target=token.cancel).start()

    with pytest.raises(idpkit.CancelledError):
        store.build(big_context, tag="big:c", no_cache=True, cancel=token, progress=on_event)
    assert store.images() == []
    assert blobs(store) == before


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, as an interactive program has it. A runner started in the
    background by a non-interactive shell inherits SIGINT ignored; the tests need the handler
    a user's script runs with."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_cancels_a_long_build(store: idpkit.Store, big_context: Path) -> None:
    """SIGINT during a large build raises KeyboardInterrupt quickly; the store is untouched."""
    before_images = store.images()
    before_blobs = blobs(store)
    reading = threading.Event()
    sent_at: list[float] = []

    def interrupt() -> None:
        # Wait until the build is really reading files, then press Ctrl-C.
        if reading.wait(timeout=60):
            sent_at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    def on_event(event: idpkit.Event) -> None:
        if event["type"] == "layer_progress":
            reading.set()

    timer = threading.Timer(0.01, interrupt)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            store.build(big_context, tag="big:ctrl-c", no_cache=True, progress=on_event)
        raised_at = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
    assert sent_at, "the build never reported progress"
    assert raised_at - sent_at[0] < 3.0
    assert store.images() == before_images
    assert blobs(store) == before_blobs
    # The half-written layer is a temporary file the core deletes; it may still be going
    # away on a compression thread when the build returns.
    deadline = time.monotonic() + 10
    while os.listdir(store.path / ".idpkit" / "tmp") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(store.path / ".idpkit" / "tmp") == []


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """A ``host:port`` whose connections are accepted (by the kernel) and never answered:
    every registry call against it hangs until cancelled."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        yield f"127.0.0.1:{srv.getsockname()[1]}"


REGISTRY_CALLS: dict[str, Callable[[str, idpkit.CancelToken | None], object]] = {
    "copy": lambda host, cancel: idpkit.copy(f"{host}/a/app:1", f"{host}/b/app:1", cancel=cancel),
    "catalog": lambda host, cancel: idpkit.catalog(host, cancel=cancel),
    "delete": lambda host, cancel: idpkit.delete(f"{host}/a/app:1", cancel=cancel),
    "list_tags": lambda host, cancel: idpkit.list_tags(f"{host}/a/app", cancel=cancel),
    "login": lambda host, cancel: idpkit.login(host, username="u", password="p", cancel=cancel),
}


@pytest.mark.parametrize("call", sorted(REGISTRY_CALLS))
def test_cancel_stops_a_hanging_registry_call(silent_registry: str, call: str) -> None:
    token = idpkit.CancelToken()
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(idpkit.CancelledError):
            REGISTRY_CALLS[call](silent_registry, token)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("call", sorted(REGISTRY_CALLS))
@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_stops_a_hanging_registry_call(silent_registry: str, call: str) -> None:
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            REGISTRY_CALLS[call](silent_registry, None)
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 5


def test_progress_events(store: idpkit.Store, context: Path, big_context: Path) -> None:
    events: list[idpkit.Event] = []
    threads: set[int] = set()

    def on_event(event: idpkit.Event) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    r = store.build(context, tag="app:1", progress=on_event)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "build_started" and kinds[-1] == "image_stored"
    assert "layer_done" in kinds
    assert events[0] == {"type": "build_started", "context": str(context)}
    assert events[-1] == {"type": "image_stored", "digest": r.digest, "tags": list(r.tags)}
    assert threading.get_ident() not in threads  # called from the worker thread

    events.clear()
    store.build(context, tag="app:2", progress=on_event)
    assert {"type": "layer_cached", "digest": r.layer.digest} in events

    events.clear()
    store.build(big_context, tag="big:p", no_cache=True, progress=on_event)
    progress = [e for e in events if e["type"] == "layer_progress"]
    assert progress and all(e["bytes"] > 0 and e["files"] > 0 for e in progress)


def test_progress_callback_exception_propagates(store: idpkit.Store, context: Path) -> None:
    calls = 0

    def broken(event: idpkit.Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"callback failed on {event['type']}")

    before = blobs(store)
    with pytest.raises(RuntimeError, match="callback failed on build_started"):
        store.build(context, tag="app:1", progress=broken)
    assert calls == 1  # later events are dropped
    with pytest.raises(TypeError, match="callable"):
        store.build(context, progress="print")  # type: ignore[arg-type]
    assert store.images() == []
    assert blobs(store) == before
