"""Push, pull and list_tags against the rig's registries; without the rig they fail."""

from __future__ import annotations

import os
import urllib.request
import uuid
from pathlib import Path

import pytest

import idpkit

REGISTRY = os.environ.get("IDPKIT_RIG_REGISTRY_PLAIN", "127.0.0.1:38451")


def _registry_up() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture
def _rig_registry_plain() -> None:
    if not _registry_up():
        pytest.fail(
            f"peer registry-plain is not answering at {REGISTRY}: start the rig (tests/rig/up)"
        )


needs_registry = pytest.mark.usefixtures("_rig_registry_plain")


@needs_registry
def test_push_list_tags_pull(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    repo = f"{REGISTRY}/pytest/app-{uuid.uuid4().hex[:12]}"
    built = store.build(context, tag=f"{repo}:1")

    events: list[idpkit.Event] = []
    pushed = store.push(f"{repo}:1", progress=events.append)
    assert isinstance(pushed, idpkit.PushResult)
    assert pushed.reference == f"{repo}:1"
    assert pushed.digest == built.digest
    assert pushed.blobs_uploaded == 2  # layer and config
    assert pushed.bytes_uploaded > 0
    assert pushed.unchanged is False
    kinds = {e["type"] for e in events}
    assert "manifest_pushed" in kinds and "blob_done" in kinds

    # Under another name, by explicit destination: every blob is already there.
    again = store.push(f"{repo}:1", f"{repo}:2")
    assert again.blobs_uploaded == 0
    assert again.digest == built.digest
    assert store.push(f"{repo}:1").unchanged is True
    assert sorted(idpkit.list_tags(repo)) == ["1", "2"]

    other = idpkit.Store(tmp_path / "other")
    pulled = other.pull(f"{repo}:2", jobs=2)
    assert isinstance(pulled, idpkit.PullResult)
    assert pulled.digest == built.digest
    assert pulled.blobs_fetched == 2  # config and layer
    assert pulled.index_digest is None
    assert other.inspect(pulled.reference).manifest == store.inspect(f"{repo}:1").manifest

    with pytest.raises(idpkit.NotFoundError):
        other.pull(f"{repo}:missing")


@needs_registry
def test_push_progress_error_propagates_after_the_push(store: idpkit.Store, context: Path) -> None:
    repo = f"{REGISTRY}/pytest/cb-{uuid.uuid4().hex[:12]}"
    store.build(context, tag=f"{repo}:1")

    def broken(event: idpkit.Event) -> None:
        raise RuntimeError("callback broke")

    with pytest.raises(RuntimeError, match="callback broke"):
        store.push(f"{repo}:1", progress=broken)


@needs_registry
def test_cancelled_push_and_pull(store: idpkit.Store, context: Path, tmp_path: Path) -> None:
    repo = f"{REGISTRY}/pytest/cancel-{uuid.uuid4().hex[:12]}"
    store.build(context, tag=f"{repo}:1")
    token = idpkit.CancelToken()
    token.cancel()
    with pytest.raises(idpkit.CancelledError):
        store.push(f"{repo}:1", cancel=token)
    store.push(f"{repo}:1")
    other = idpkit.Store(tmp_path / "other")
    with pytest.raises(idpkit.CancelledError):
        other.pull(f"{repo}:1", cancel=token)
    assert other.images() == []


def test_registry_errors(store: idpkit.Store, context: Path) -> None:
    store.build(context, tag="127.0.0.1:9/team/app:1")
    with pytest.raises(idpkit.NetworkError) as err:
        store.push("127.0.0.1:9/team/app:1", attempts=1, connect_timeout_secs=2)
    assert err.value.kind == "NETWORK"
    with pytest.raises(idpkit.NotFoundError):
        store.push("missing:1", "127.0.0.1:9/team/app:1")
    with pytest.raises(idpkit.InvalidInputError, match="the password is missing") as missing:
        store.pull("127.0.0.1:9/team/app:1", username="only-a-user")
    assert "a username needs its password" in str(missing.value)
    with pytest.raises(TypeError, match="list of paths"):
        store.pull("127.0.0.1:9/team/app:1", ca_files=Path("/etc/ssl/ca.pem"))  # type: ignore[arg-type]
    with pytest.raises(idpkit.NetworkError, match=r"127\.0\.0\.1:9"):
        idpkit.list_tags("127.0.0.1:9/team/app", attempts=1, connect_timeout_secs=2)


def test_registry_argument_types_are_checked() -> None:
    """A wrong type raises a TypeError naming the keyword, before any request."""
    with pytest.raises(TypeError, match=r"cancel must be an idpkit\.CancelToken"):
        idpkit.list_tags("127.0.0.1:9/team/app", cancel="stop")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="username must be a string"):
        idpkit.catalog("127.0.0.1:9", username=1, password="p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="token must be a string"):
        idpkit.delete("127.0.0.1:9/team/app:1", token=b"t")  # type: ignore[arg-type]


TLS = os.environ.get("IDPKIT_RIG_REGISTRY_TLS")
TLS_USER = os.environ.get("IDPKIT_RIG_REGISTRY_USER", "")
TLS_PASSWORD = os.environ.get("IDPKIT_RIG_REGISTRY_PASSWORD", "")
RIG_CA = os.environ.get("IDPKIT_RIG_CA", "")


@pytest.fixture
def _rig_registry_tls() -> None:
    if not (TLS and TLS_USER and RIG_CA and os.path.exists(RIG_CA)):
        pytest.fail(
            "peer registry-tls is not in the environment: start the rig (tests/rig/up) and "
            "source its rig.env (tests/suites/40-python.sh does)"
        )


needs_tls_registry = pytest.mark.usefixtures("_rig_registry_tls")


@needs_tls_registry
def test_tls_registry_trust_and_credentials(
    store: idpkit.Store, context: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No stored logins from this machine's Docker config may leak into the test.
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    for var in ("IDPKIT_REGISTRY_TOKEN", "IDPKIT_REGISTRY_USERNAME", "IDPKIT_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    repo = f"{TLS}/pytest/tls-{uuid.uuid4().hex[:12]}"
    store.build(context, tag=f"{repo}:1")
    certs_d = [tmp_path / "no-certs.d"]

    with pytest.raises(idpkit.UntrustedCertificateError) as err:
        store.push(f"{repo}:1", certs_d=certs_d, attempts=1)
    assert err.value.kind == "UNTRUSTED"

    with pytest.raises(idpkit.AuthError):
        store.push(
            f"{repo}:1",
            ca_files=[Path(RIG_CA)],
            certs_d=certs_d,
            username=TLS_USER,
            password="wrong-password",
            attempts=1,
        )

    pushed = store.push(
        f"{repo}:1",
        ca_files=[Path(RIG_CA)],
        certs_d=certs_d,
        username=TLS_USER,
        password=TLS_PASSWORD,
    )
    assert pushed.blobs_uploaded == 2
    tags = idpkit.list_tags(
        repo, ca_files=[RIG_CA], certs_d=certs_d, username=TLS_USER, password=TLS_PASSWORD
    )
    assert tags == ["1"]


@needs_registry
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_can_push(store: idpkit.Store, context: Path) -> None:
    """The parent's async runtime is rebuilt in a forked child."""
    repo = f"{REGISTRY}/pytest/fork-{uuid.uuid4().hex[:12]}"
    store.build(context, tag=[f"{repo}:parent", f"{repo}:child"])
    store.push(f"{repo}:parent")  # the runtime now exists in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            r = idpkit.Store(store.path).push(f"{repo}:child")
            code = 0 if r.reference == f"{repo}:child" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(idpkit.list_tags(repo)) == ["child", "parent"]
