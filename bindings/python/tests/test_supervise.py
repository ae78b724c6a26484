"""Local services and the supervisor from Python, with real servers: ``sandbox_up`` of a Rails
project (Gemfile with rails, pg and redis) runs Debian's postgres and redis-server, healthy,
with their connection variables (psql and redis-cli get answers), ``process_state`` events
during the call and none after it, no password in an event or a message; ``sandbox_status``
and ``sandbox_env`` say what the up returned; a second up is a ConflictError; ``sandbox_down``
stops both and their pids and ports are gone. ``run`` of a Procfile in the background is
stopped by ``sandbox_down`` on its state directory; a foreground run stops when its
CancelToken is cancelled (it returns its final status) and, in ``idpkit.aio``, when its task
is cancelled (CancelledError, after the ordered shutdown). Whatever a test starts is stopped,
failed or not."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

import idpkit
import idpkit.aio
from idpkit import _idpkit

SERVICES_GEMFILE = """\
source "https://rubygems.org"

gem "rails"
gem "pg"
gem "redis"
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A fresh directory of mode 0755: as root, postgres runs as the postgres user, which must
    enter every directory on the way to its data (pytest's tmp_path is under a 0700 one)."""
    d = Path(tempfile.mkdtemp(prefix="idpkit-py-supervise-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def stopped_at_end(dir: Path) -> Iterator[None]:
    """Stops whatever still runs in ``dir`` when the block ends, passed or failed."""
    try:
        yield
    finally:
        with contextlib.suppress(idpkit.IdpkitError):
            idpkit.sandbox_down(dir)


class Events:
    """A ``progress`` callback keeping the events, and those that came after the call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[idpkit.Event] = []
        self.late: list[idpkit.Event] = []
        self.returned = False

    def __call__(self, event: idpkit.Event) -> None:
        with self.lock:
            (self.late if self.returned else self.events).append(event)

    def done(self) -> None:
        with self.lock:
            self.returned = True

    def reached(self, name: str, state: str) -> bool:
        with self.lock:
            return any(
                e["type"] == "process_state" and e.get("name") == name and e.get("state") == state
                for e in self.events
            )

    def text(self) -> str:
        with self.lock:
            return json.dumps(self.events + self.late)


def gone(pid: int) -> bool:
    """Whether ``pid`` ended: no /proc entry, or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 1 :].split()[0] == "Z"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.02)


def procfile(root: Path) -> tuple[Path, Path, int]:
    """A Procfile with an HTTP server on a free port and a sleeper: file, state dir, port."""
    port = free_port()
    f = root / "Procfile"
    f.write_text(
        f"web: exec python3 -m http.server {port} --bind 127.0.0.1\nworker: exec sleep 600\n"
    )
    return f, root / "state", port


def cli(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, f"{args[0]}: exit {done.returncode}: {done.stderr}"
    return done.stdout.strip()


def test_sandbox_up_runs_real_postgres_and_redis_until_down(open_dir: Path) -> None:
    app = open_dir / "app"
    app.mkdir()
    (app / "Gemfile").write_text(SERVICES_GEMFILE)
    events = Events()
    with stopped_at_end(app):
        try:
            up = idpkit.sandbox_up(app, progress=events)
        finally:
            events.done()
        env = up.env
        password = env["PGPASSWORD"]
        redis = urlsplit(env["REDIS_URL"])
        secrets = [password, redis.password or ""]
        long_enough = len(password) >= 16 and len(secrets[1]) >= 16
        assert long_enough, "generated passwords"

        # Both healthy with pids, the connection variables, the 0600 env file.
        assert [p.name for p in up.status.processes] == ["postgres", "redis"]
        for p in up.status.processes:
            assert p.state == idpkit.ProcessState.HEALTHY and p.ready, p
            assert p.pid is not None and not gone(p.pid), p
        assert up.status.state == idpkit.SupervisorState.RUNNING
        assert up.status.pid == os.getpid()
        pg_port = int(env["PGPORT"])
        # Compared apart from the assert, which would print the URLs and their password.
        url_ok = env["DATABASE_URL"] == (
            f"postgres://sandbox:{password}@127.0.0.1:{pg_port}/sandbox_development"
        )
        assert url_ok, "DATABASE_URL is not postgres://sandbox:PASSWORD@127.0.0.1:PORT/…"
        assert (env["PGHOST"], env["PGUSER"], env["PGDATABASE"]) == (
            "127.0.0.1",
            "sandbox",
            "sandbox_development",
        )
        assert (redis.scheme, redis.username, redis.hostname) == ("redis", "default", "127.0.0.1")
        redis_port = redis.port
        assert redis_port and redis_port != pg_port
        assert up.env_file.stat().st_mode & 0o777 == 0o600

        # Real servers.
        # (Their answers apart from the assert, which would print the URLs' passwords.)
        answer = cli("psql", env["DATABASE_URL"], "-tAc", "select 1")
        assert answer == "1"
        answer = cli("redis-cli", "-u", env["REDIS_URL"], "--no-auth-warning", "ping")
        assert answer == "PONG"

        # Events: each service went healthy during the call (the supervisor sends a change
        # before its status shows it, so even the last one's arrives before the up returns),
        # none came after it, none holds a password.
        time.sleep(0.3)
        for name in ("postgres", "redis"):
            assert events.reached(name, "running"), name
            assert events.reached(name, "healthy"), f"no process_state healthy event for {name}"
        assert events.late == []
        assert not any(s in events.text() for s in secrets), "an event holds a password"

        # status and env: what the up returned.
        assert idpkit.sandbox_status(app) == up.status
        got = idpkit.sandbox_env(app)
        same_env = got.env == env
        assert same_env, "sandbox_env's variables differ from the up's"
        assert got.env_file == up.env_file

        # A second up while it runs.
        with pytest.raises(idpkit.ConflictError) as info:
            idpkit.sandbox_up(app)
        assert info.value.kind == idpkit.ErrorKind.CONFLICT
        assert not any(s in str(info.value) for s in secrets)

        # down: stopped, with events; pids and ports gone.
        down_events = Events()
        down = idpkit.sandbox_down(app, progress=down_events)
        down_events.done()
        assert down.state == idpkit.SupervisorState.STOPPED
        assert down.reason == "stopped on request"
        assert [(p.name, p.state, p.pid) for p in down.processes] == [
            ("postgres", idpkit.ProcessState.STOPPED, None),
            ("redis", idpkit.ProcessState.STOPPED, None),
        ]
        assert down_events.reached("postgres", "stopped")
        assert down_events.reached("redis", "stopped")
        assert not any(s in down_events.text() for s in secrets)
        for p in up.status.processes:
            assert p.pid is not None and gone(p.pid), f"{p.name} (pid {p.pid}) still runs"
        assert not listening(pg_port) and not listening(redis_port)
        assert idpkit.sandbox_status(app).state == idpkit.SupervisorState.STOPPED


def test_run_in_the_background_until_sandbox_down(open_dir: Path) -> None:
    file, state, port = procfile(open_dir)
    with stopped_at_end(state):
        st = idpkit.run(file, state_dir=state, background=True, timeout_seconds=20)
        assert st.state == idpkit.SupervisorState.RUNNING
        assert [(p.name, p.state) for p in st.processes] == [
            ("web", idpkit.ProcessState.HEALTHY),
            ("worker", idpkit.ProcessState.HEALTHY),
        ]
        pids = [p.pid for p in st.processes]
        assert all(pid is not None and not gone(pid) for pid in pids)
        wait_until(f"web listening on {port}", lambda: listening(port))
        assert idpkit.sandbox_status(state).state == idpkit.SupervisorState.RUNNING

        down = idpkit.sandbox_down(state)
        assert down.state == idpkit.SupervisorState.STOPPED
        assert all(p.state == idpkit.ProcessState.STOPPED for p in down.processes)
        assert all(pid is not None and gone(pid) for pid in pids)
        assert not listening(port)


def test_a_foreground_run_returns_its_status_when_cancelled(open_dir: Path) -> None:
    file, state, port = procfile(open_dir)
    token = idpkit.CancelToken()
    events = Events()
    outcome: dict[str, Any] = {}

    def foreground() -> None:
        try:
            outcome["status"] = idpkit.run(file, state_dir=state, progress=events, cancel=token)
        except BaseException as e:  # re-raised below, on the test's thread
            outcome["error"] = e

    worker = threading.Thread(target=foreground)
    with stopped_at_end(state):
        worker.start()
        try:
            wait_until(
                "web and worker healthy",
                lambda: events.reached("web", "healthy") and events.reached("worker", "healthy"),
            )
            wait_until(f"web listening on {port}", lambda: listening(port))
            pids = [p.pid for p in idpkit.sandbox_status(state).processes]
        finally:
            token.cancel()
            worker.join(timeout=30)
        assert not worker.is_alive(), "run did not return within 30s of its cancellation"
        if "error" in outcome:
            raise outcome["error"]
        st: idpkit.SupervisorStatus = outcome["status"]
        assert st.state == idpkit.SupervisorState.STOPPED
        assert st.reason == "cancelled"
        assert [(p.name, p.state, p.pid) for p in st.processes] == [
            ("web", idpkit.ProcessState.STOPPED, None),
            ("worker", idpkit.ProcessState.STOPPED, None),
        ]
        assert events.reached("web", "stopped") and events.reached("worker", "stopped")
        assert all(pid is not None and gone(pid) for pid in pids)
        assert not listening(port)


def test_aio_background_run_status_down_and_a_cancelled_task(open_dir: Path) -> None:
    """idpkit.aio: run in the background, sandbox_status, sandbox_down; a foreground run's
    task cancelled raises CancelledError once the processes are stopped."""
    bg_dir, fg_dir = open_dir / "bg", open_dir / "fg"
    bg_dir.mkdir()
    fg_dir.mkdir()
    bg_file, bg_state, bg_port = procfile(bg_dir)
    fg_file, fg_state, fg_port = procfile(fg_dir)

    async def main() -> None:
        st = await idpkit.aio.run(bg_file, state_dir=bg_state, background=True)
        assert [p.state for p in st.processes] == [idpkit.ProcessState.HEALTHY] * 2
        status = await idpkit.aio.sandbox_status(bg_state)
        assert status.state == idpkit.SupervisorState.RUNNING
        down = await idpkit.aio.sandbox_down(bg_state)
        assert down.state == idpkit.SupervisorState.STOPPED
        assert all(p.pid is not None and gone(p.pid) for p in st.processes)

        events = Events()
        task = asyncio.ensure_future(idpkit.aio.run(fg_file, state_dir=fg_state, progress=events))
        while not (events.reached("web", "healthy") and events.reached("worker", "healthy")):
            await asyncio.sleep(0.02)
        running = await idpkit.aio.sandbox_status(fg_state)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
        after = await idpkit.aio.sandbox_status(fg_state)
        assert after.state == idpkit.SupervisorState.STOPPED and after.reason == "cancelled"
        assert all(p.pid is not None and gone(p.pid) for p in running.processes)

    with stopped_at_end(bg_state), stopped_at_end(fg_state):
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert not listening(bg_port) and not listening(fg_port)


def test_errors_name_what_is_wrong(open_dir: Path) -> None:
    empty = open_dir / "empty"
    empty.mkdir()
    with pytest.raises(idpkit.NotFoundError, match="no supervisor ran here") as info:
        idpkit.sandbox_status(empty)
    assert info.value.kind == idpkit.ErrorKind.NOT_FOUND
    with pytest.raises(idpkit.NotFoundError):
        idpkit.sandbox_env(empty)
    doc = json.dumps({"dir": str(empty), "servicez": ["redis"]})
    with pytest.raises(idpkit.InvalidInputError, match="servicez") as bad:
        _idpkit.call("sandbox_up", None, doc)
    assert bad.value.kind == idpkit.ErrorKind.INVALID_INPUT
    with pytest.raises(idpkit.InvalidInputError, match="backgroundd"):
        _idpkit.call("run", None, json.dumps({"file": "Procfile", "backgroundd": True}))
