"""trust_check, trust_add, trust_extract and login_from_cluster against the rig (TLS registry,
nginx's expired and wrong-host certificates, kube-apiserver with idpbuilder's Secrets, and
Gitea). Without the rig these tests fail, naming the missing peer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import idpkit
from idpkit import _idpkit

from .rig import (
    Cluster,
    TlsRegistry,
    assert_no_secret,
    cluster,
    host_port,
    need,
    need_listening,
    tls_registry,
)


@pytest.fixture
def tls() -> TlsRegistry:
    return tls_registry()


@pytest.fixture
def rig_cluster() -> Cluster:
    return cluster()


def no_certs_d(tmp_path: Path) -> list[Path]:
    """A certs.d list with nothing in it: only what a test passes is trusted."""
    return [tmp_path / "empty-certs.d"]


def test_trust_check_with_the_rig_ca_is_trusted(tls: TlsRegistry, tmp_path: Path) -> None:
    report = idpkit.trust_check(
        tls.host, ca_files=[tls.ca], certs_d=no_certs_d(tmp_path), no_platform_roots=True
    )
    assert isinstance(report, idpkit.TrustReport)
    assert report.verdict is idpkit.Verdict.TRUSTED
    verdict: str = report.verdict
    assert verdict == "trusted"  # a str enum
    assert report.trusted is True and report.insecure is False
    assert report.message == ""
    assert report.host == tls.host
    assert any(str(tls.ca) in s for s in report.sources), report.sources
    assert len(report.chain) >= 1
    leaf = report.chain[0]
    assert isinstance(leaf, idpkit.CertInfo)
    assert "127.0.0.1" in leaf.names
    assert "idpkit rig test CA" in leaf.issuer
    assert leaf.self_signed is False
    assert leaf.sha256.startswith("sha256:") and len(leaf.sha256) == 7 + 64
    assert isinstance(report.chain, tuple) and isinstance(leaf.names, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.trusted = False  # type: ignore[misc]
    assert "verdict=<Verdict.TRUSTED" in repr(report)


def test_trust_check_without_the_ca_says_how_to_fix_it(tls: TlsRegistry, tmp_path: Path) -> None:
    report = idpkit.trust_check(tls.host, certs_d=no_certs_d(tmp_path), no_platform_roots=True)
    assert report.verdict is idpkit.Verdict.UNKNOWN_ISSUER
    assert report.trusted is False
    assert report.chain, "the chain is reported even when it is not trusted"
    assert f"idpkit trust add {tls.host}" in report.message

    # Marked insecure: still verified and reported as such.
    marked = idpkit.trust_check(
        tls.host,
        insecure_hosts=[tls.host],
        certs_d=no_certs_d(tmp_path),
        no_platform_roots=True,
    )
    assert marked.verdict is idpkit.Verdict.UNKNOWN_ISSUER and marked.insecure is True


def test_trust_check_expired_and_wrong_host(tmp_path: Path) -> None:
    ca = Path(need("nginx", "IDPKIT_RIG_CA"))
    expired = host_port(need("nginx", "IDPKIT_RIG_TLS_EXPIRED_URL"))
    wrong_host = host_port(need("nginx", "IDPKIT_RIG_TLS_WRONGHOST_URL"))
    need_listening("nginx", expired)
    certs_d = no_certs_d(tmp_path)

    report = idpkit.trust_check(expired, ca_files=[ca], certs_d=certs_d, no_platform_roots=True)
    assert report.verdict is idpkit.Verdict.EXPIRED
    assert report.trusted is False
    assert "expired" in report.message and expired in report.message
    assert report.chain[0].not_after in report.message

    report = idpkit.trust_check(wrong_host, ca_files=[ca], certs_d=certs_d, no_platform_roots=True)
    assert report.verdict is idpkit.Verdict.WRONG_HOST
    assert "wrong-host.invalid" in report.chain[0].names


def test_trust_check_not_tls_and_unreachable(tmp_path: Path) -> None:
    plain = need("registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
    need_listening("registry-plain", plain)
    report = idpkit.trust_check(plain, certs_d=no_certs_d(tmp_path))
    assert report.verdict is idpkit.Verdict.NOT_TLS, report.message
    assert report.chain == ()

    report = idpkit.trust_check("127.0.0.1:9", certs_d=no_certs_d(tmp_path))
    assert report.verdict is idpkit.Verdict.UNREACHABLE
    assert "127.0.0.1:9" in report.message

    with pytest.raises(idpkit.NotFoundError, match=r"no-such-ca\.pem"):
        idpkit.trust_check(plain, ca_files=[tmp_path / "no-such-ca.pem"])


def test_trust_add_installs_the_ca_for_later_calls(
    store: idpkit.Store, context: Path, tmp_path: Path, tls: TlsRegistry
) -> None:
    certs_d = tmp_path / "certs.d"
    path = idpkit.trust_add(tls.host, tls.ca, certs_d=certs_d)
    assert path == certs_d / tls.host / "ca.crt"
    assert path.read_bytes() == tls.ca.read_bytes()
    # Re-adding replaces it (str paths work too).
    assert idpkit.trust_add(tls.host, str(tls.ca), certs_d=str(certs_d)) == path

    report = idpkit.trust_check(tls.host, certs_d=[certs_d], no_platform_roots=True)
    assert report.trusted, report.message
    assert any(str(path) in s for s in report.sources), report.sources

    # A push finds the CA there; no ca_files needed.
    repo = f"{tls.host}/pytest/trust-add-{uuid.uuid4().hex[:12]}"
    store.build(context, tag=f"{repo}:1")
    pushed = store.push(f"{repo}:1", certs_d=[certs_d], username=tls.user, password=tls.password)
    assert pushed.blobs_uploaded == 2

    with pytest.raises(idpkit.InvalidInputError, match="HOST"):
        idpkit.trust_add("a/b", tls.ca, certs_d=certs_d)
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(idpkit.InvalidInputError, match=r"not-a-ca\.pem"):
        idpkit.trust_add(tls.host, not_pem, certs_d=certs_d)
    with pytest.raises(idpkit.NotFoundError, match=r"missing\.pem"):
        idpkit.trust_add(tls.host, tmp_path / "missing.pem", certs_d=certs_d)
    assert path.read_bytes() == tls.ca.read_bytes()  # the failed adds left it alone


def test_trust_extract_and_login_from_cluster(
    store: idpkit.Store, context: Path, tmp_path: Path, rig_cluster: Cluster
) -> None:
    """idpbuilder's real setup end to end: Gitea serves one self-signed CA:TRUE certificate
    as its own; trust_extract installs it from the cluster, and that alone is then trusted for
    login, push, pull, tags, copy and delete."""
    reg = rig_cluster.gitea_registry
    gitea_cert = rig_cluster.ca.read_bytes()
    gitea_der = ssl.PEM_cert_to_DER_cert(gitea_cert.decode())
    gitea_sha256 = "sha256:" + hashlib.sha256(gitea_der).hexdigest()

    # Before extraction, with no trust anchor at all: the served certificate is not
    # trusted, the report says it is self-signed and how to fix it, and a push is refused.
    before = idpkit.trust_check(reg, certs_d=no_certs_d(tmp_path), no_platform_roots=True)
    assert before.trusted is False
    assert before.verdict is idpkit.Verdict.UNKNOWN_ISSUER, before.message
    assert "self-signed" in before.message, before.message
    assert reg in before.message
    assert before.chain[0].sha256 == gitea_sha256  # what Gitea serves is that certificate
    assert before.chain[0].self_signed is True
    repo = f"{reg}/{rig_cluster.gitea_user.lower()}/pytest-cluster-{uuid.uuid4().hex[:12]}"
    image, copy_ref = f"{repo}:v1", f"{repo}:copy"
    built = store.build(context, tag=image)
    with pytest.raises(idpkit.UntrustedCertificateError) as untrusted:
        store.push(image, certs_d=no_certs_d(tmp_path), no_platform_roots=True, attempts=1)
    assert untrusted.value.kind == "UNTRUSTED"
    assert reg in str(untrusted.value)

    certs_d = tmp_path / "certs.d"
    options = idpkit.ClusterOptions(kubeconfig=rig_cluster.kubeconfig, host=reg, certs_d=certs_d)
    extracted = idpkit.trust_extract(kubeconfig=rig_cluster.kubeconfig, host=reg, certs_d=certs_d)
    assert isinstance(extracted, idpkit.ExtractResult)
    assert extracted.host == reg
    assert extracted.path == certs_d / reg / "ca.crt"
    assert extracted.source == "default/idpbuilder-cert ca.crt"
    assert extracted.path.read_bytes() == gitea_cert  # exactly the Secret's bytes
    assert extracted.subject == before.chain[0].subject
    assert "cnoe.io" in extracted.subject
    assert extracted.not_after

    # From here on only what was extracted is trusted: that certs.d, no CA files, no
    # platform roots.
    trust: dict[str, Any] = {"certs_d": [certs_d], "no_platform_roots": True}
    after = idpkit.trust_check(reg, **trust)
    assert after.trusted is True and after.verdict is idpkit.Verdict.TRUSTED, after.message
    assert "one of your trust anchors" in after.message, after.message
    assert any(str(extracted.path) in source for source in after.sources), after.sources

    events: list[idpkit.Event] = []
    login = idpkit.login_from_cluster(reg, options, progress=events.append, **trust)
    assert login.registry == reg
    assert login.username == rig_cluster.gitea_user
    config = tmp_path / "docker-config" / "config.json"  # $DOCKER_CONFIG (conftest)
    assert login.stored_in == str(config)
    assert reg in json.loads(config.read_text())["auths"]
    assert_no_secret(json.dumps(events), "the login events")

    # No credentials passed: they come from the cluster login.
    pushed = store.push(image, **trust)
    assert pushed.digest == built.digest
    assert pushed.blobs_uploaded == 2

    other = idpkit.Store(tmp_path / "other")
    pulled = other.pull(image, **trust)
    assert pulled.digest == built.digest
    assert pulled.blobs_fetched == 2

    assert idpkit.list_tags(repo, **trust) == ["v1"]

    copied = idpkit.copy(image, copy_ref, **trust)
    assert copied.reference == copy_ref
    assert copied.digest == built.digest
    assert copied.bytes_uploaded == 0  # same repository: only the manifest moves
    assert sorted(idpkit.list_tags(repo, **trust)) == ["copy", "v1"]

    # Deleting the copy deletes its manifest, and with it every tag pointing at it: refused
    # without force, naming v1; forced, both tags go.
    with pytest.raises(idpkit.ConflictError, match="also tagged v1"):
        idpkit.delete(copy_ref, **trust)
    assert idpkit.delete(copy_ref, force=True, **trust) == built.digest
    assert idpkit.list_tags(repo, **trust) == []
    with pytest.raises(idpkit.NotFoundError):
        idpkit.Store(tmp_path / "after-delete").pull(copy_ref, **trust)

    with pytest.raises(idpkit.NotFoundError, match='"nope"'):
        idpkit.trust_extract(**dataclasses.asdict(dataclasses.replace(options, context="nope")))
    with pytest.raises(idpkit.NotFoundError, match='"nope"'):
        idpkit.login_from_cluster(reg, dataclasses.replace(options, context="nope"))
    with pytest.raises(idpkit.NotFoundError, match="no-kubeconfig"):
        idpkit.trust_extract(kubeconfig=tmp_path / "no-kubeconfig", host=reg)

    # The earlier name still works, and says it is deprecated.
    with pytest.deprecated_call():
        again = idpkit.extract_ca(options)
    assert again.path == extracted.path and again.source == extracted.source


def test_push_pull_and_build_from_gitea_with_a_token(
    store: idpkit.Store, context: Path, tmp_path: Path, rig_cluster: Cluster, leak_guard: list[str]
) -> None:
    """A registry token (the rig fetches one from Gitea's /v2/token) given as ``token=``:
    push, tags, a build whose base is pulled from Gitea with the call's token and its
    ``pull`` options, and delete. Without it, or with a wrong one, Gitea refuses, and the
    error shows no token."""
    token = need("gitea", "IDPKIT_RIG_GITEA_REGISTRY_TOKEN")
    reg = rig_cluster.gitea_registry
    trust: dict[str, Any] = {
        "ca_files": [rig_cluster.ca],
        "certs_d": no_certs_d(tmp_path),
        "no_platform_roots": True,
    }
    repo = f"{reg}/{rig_cluster.gitea_user.lower()}/pytest-token-{uuid.uuid4().hex[:12]}"
    built = store.build(context, tag=f"{repo}:1")

    with pytest.raises(idpkit.AuthError):
        store.push(f"{repo}:1", attempts=1, **trust)  # nobody logged in, no token
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(idpkit.AuthError) as err:
        store.push(f"{repo}:1", token=wrong, attempts=1, **trust)
    assert wrong not in str(err.value) and wrong not in repr(err.value)
    assert reg in str(err.value)
    with pytest.raises(idpkit.InvalidInputError, match="username and password"):
        store.push(f"{repo}:1", username=rig_cluster.gitea_user, token=token, **trust)

    pushed = store.push(f"{repo}:1", token=token, **trust)
    assert pushed.digest == built.digest
    assert pushed.blobs_uploaded == 2
    assert idpkit.list_tags(repo, token=token, **trust) == ["1"]

    # A build on top of the pushed image, in a store that does not have it: the base is
    # pulled with the build's token and pull options.
    other = idpkit.Store(tmp_path / "other")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extra.txt").write_text("more\n")
    with pytest.raises(idpkit.AuthError) as err:
        other.build(
            extra, from_=f"{repo}:1", token=wrong, pull=idpkit.RegistryOptions(attempts=1, **trust)
        )
    assert wrong not in str(err.value)
    no_ca = idpkit.RegistryOptions(attempts=1, certs_d=no_certs_d(tmp_path), no_platform_roots=True)
    with pytest.raises(idpkit.UntrustedCertificateError):  # the pull options are used
        other.build(extra, from_=f"{repo}:1", token=token, pull=no_ca)
    child = other.build(
        extra, tag="child:1", from_=f"{repo}:1", token=token, pull=idpkit.RegistryOptions(**trust)
    )
    layers = other.inspect("child:1").manifest.layers
    assert [layer.digest for layer in layers] == [built.layer.digest, child.layer.digest]

    assert idpkit.delete(f"{repo}:1", token=token, **trust) == built.digest
    assert idpkit.list_tags(repo, token=token, **trust) == []
    for text in leak_guard:
        assert token not in text


def test_trust_results_match_the_core(
    tmp_path: Path, tls: TlsRegistry, rig_cluster: Cluster
) -> None:
    """A field added to a core trust type must be added to the dataclass too."""
    trust = json.dumps({"host": tls.host, "ca_files": [os.fspath(tls.ca)], "certs_d": []})
    report = json.loads(_idpkit.call("trust_check", None, trust))
    cluster = idpkit.ClusterOptions(
        kubeconfig=rig_cluster.kubeconfig, host=rig_cluster.gitea_registry, certs_d=tmp_path
    )
    extracted = json.loads(_idpkit.call("trust_extract", None, json.dumps(cluster._to_json())))
    for cls, doc in {
        idpkit.TrustReport: report,
        idpkit.CertInfo: report["chain"][0],
        idpkit.ExtractResult: extracted,
    }.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(doc), cls.__name__


def test_verdicts_are_the_cores() -> None:
    # The same verdicts (the contract's schema groups them, so the order is not the core's).
    assert sorted(v.value for v in idpkit.Verdict) == sorted(_idpkit.VERDICTS)
    assert len(idpkit.Verdict) == len(_idpkit.VERDICTS)
    assert str(idpkit.Verdict.WRONG_HOST) == "wrong_host"


def test_cluster_options_are_the_cores() -> None:
    core = idpkit.resolve_options("trust_extract")
    default = idpkit.ClusterOptions()
    assert {f.name for f in dataclasses.fields(idpkit.ClusterOptions)} == set(core)
    for f in dataclasses.fields(idpkit.ClusterOptions):
        assert getattr(default, f.name) == core[f.name], f.name
    assert idpkit.DEFAULT_GITEA_HOST == _idpkit.DEFAULT_GITEA_HOST == default.host

    given = idpkit.ClusterOptions(kubeconfig="kube/config", context="ctx", certs_d=Path("/c"))
    assert given.kubeconfig == Path("kube/config") and given.certs_d == Path("/c")
    assert given == idpkit.ClusterOptions(
        kubeconfig=Path("kube/config"), context="ctx", certs_d="/c"
    )
    with pytest.raises(TypeError, match="kubeconfig"):
        idpkit.ClusterOptions(kubeconfig=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="host"):
        idpkit.ClusterOptions(host="")
    with pytest.raises(TypeError, match="ClusterOptions"), pytest.deprecated_call():
        idpkit.extract_ca({"host": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ClusterOptions"):
        idpkit.login_from_cluster("x", {"host": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="kubeconfig"):
        idpkit.trust_extract(kubeconfig=42)  # type: ignore[arg-type]


def test_a_cancelled_trust_check_of_a_silent_host_stops_at_once(tmp_path: Path) -> None:
    # A host that accepts the connection and never answers the handshake: without the
    # token trust_check would wait out its 10 s timeout.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        held: list[socket.socket] = []
        threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
        token = idpkit.CancelToken()
        timer = threading.Timer(0.3, token.cancel)
        timer.start()
        start = time.monotonic()
        with pytest.raises(idpkit.CancelledError):
            idpkit.trust_check(f"127.0.0.1:{silent.getsockname()[1]}", cancel=token)
        assert time.monotonic() - start < 3
        timer.join()

    # A cancelled token stops trust_extract before it reads the kubeconfig; nothing installed.
    certs_d = tmp_path / "certs.d"
    cluster_opts = idpkit.ClusterOptions(kubeconfig=str(tmp_path / "none"), certs_d=str(certs_d))
    with pytest.raises(idpkit.CancelledError):
        idpkit.trust_extract(**dataclasses.asdict(cluster_opts), cancel=token)
    with pytest.raises(idpkit.CancelledError), pytest.deprecated_call():
        idpkit.extract_ca(cluster_opts, cancel=token)
    assert not certs_d.exists()
