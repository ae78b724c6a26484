"""The test rig's peers (tests/rig/up writes their endpoints to .rig/rig.env, which
tests/suites/40-python.sh sources). A test that needs a peer fails, naming it, when it is
missing: the rig is part of the test setup, never a reason to skip."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Variables of rig.env holding secrets: none may appear in an exception, repr or event.
SECRET_VARIABLES = (
    "IDPKIT_RIG_REGISTRY_PASSWORD",
    "IDPKIT_RIG_GITEA_PASSWORD",
    "IDPKIT_RIG_GITEA_TOKEN",
    "IDPKIT_RIG_GITEA_REGISTRY_TOKEN",
    "IDPKIT_RIG_KUBE_TOKEN",
    "IDPKIT_RIG_GIT_PASSWORD",
)

_START = "start the rig (tests/rig/up)"
_SOURCE = "and source .rig/rig.env (tests/suites/40-python.sh does)"


def secrets() -> dict[str, str]:
    """Every rig secret by the name it is known under (no values in messages), with the
    base64 ``user:password`` forms a basic-auth header or Docker config would hold."""
    out = {name: os.environ.get(name, "") for name in SECRET_VARIABLES}
    for user_var, secret_var in (
        ("IDPKIT_RIG_REGISTRY_USER", "IDPKIT_RIG_REGISTRY_PASSWORD"),
        ("IDPKIT_RIG_GITEA_USER", "IDPKIT_RIG_GITEA_PASSWORD"),
        ("IDPKIT_RIG_GITEA_USER", "IDPKIT_RIG_GITEA_TOKEN"),
    ):
        user, secret = os.environ.get(user_var, ""), out[secret_var]
        if user and secret:
            pair = f"{user}:{secret}".encode()
            out[f"base64({user_var}:{secret_var})"] = base64.b64encode(pair).decode()
    # Short values would match by accident; the rig's are 32 characters or more.
    return {name: value for name, value in out.items() if len(value) >= 8}


def assert_no_secret(text: str, what: str) -> None:
    """Fails when a rig secret occurs in ``text``, without printing the secret."""
    for name, value in secrets().items():
        if value in text:
            redacted = text.replace(value, f"<{name}>")
            pytest.fail(f"{what} reveals {name}: {redacted}", pytrace=False)


def need(peer: str, variable: str) -> str:
    """The value of a rig.env variable, or a failure naming the peer it belongs to."""
    value = os.environ.get(variable, "")
    if not value:
        pytest.fail(
            f"peer {peer} is not in the environment ({variable} is unset): {_START} {_SOURCE}",
            pytrace=False,
        )
    return value


def host_port(url_or_host: str) -> str:
    """``host:port`` of ``https://host:port/path`` or of ``host:port``."""
    rest = url_or_host.split("://", 1)[-1]
    return rest.split("/", 1)[0]


def need_listening(peer: str, address: str) -> None:
    """Fails, naming the peer, unless something accepts connections at ``host:port``."""
    host, port = host_port(address).rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as e:
        pytest.fail(f"peer {peer} is not answering at {host}:{port} ({e}): {_START}", pytrace=False)


def need_file(peer: str, variable: str) -> Path:
    path = Path(need(peer, variable))
    if not path.is_file():
        pytest.fail(f"peer {peer}: {variable}={path} does not exist: {_START}", pytrace=False)
    return path


@dataclass(frozen=True)
class TlsRegistry:
    """The rig's TLS registry (htpasswd auth, certificate from the rig CA)."""

    host: str
    user: str
    password: str
    ca: Path

    def __repr__(self) -> str:  # the password stays out of test output
        return f"TlsRegistry(host={self.host!r}, user={self.user!r})"


def plain_registry() -> str:
    host = need("registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN")
    need_listening("registry-plain", host)
    return host


def tls_registry() -> TlsRegistry:
    peer = "registry-tls"
    reg = TlsRegistry(
        host=need(peer, "IDPKIT_RIG_REGISTRY_TLS"),
        user=need(peer, "IDPKIT_RIG_REGISTRY_USER"),
        password=need(peer, "IDPKIT_RIG_REGISTRY_PASSWORD"),
        ca=need_file(peer, "IDPKIT_RIG_CA"),
    )
    need_listening(peer, reg.host)
    return reg


@dataclass(frozen=True)
class Cluster:
    """The rig's kube-apiserver (idpbuilder's Secrets) and Gitea behind nginx.

    ``ca`` is the certificate idpbuilder creates and nginx serves for Gitea: one self-signed
    ECDSA certificate with ``CA:TRUE`` served as the leaf, not signed by the rig CA. The
    cluster's Secrets ``default/idpbuilder-cert`` and ``ingress-nginx/idpbuilder-cert`` hold
    exactly these bytes.
    """

    kubeconfig: Path
    gitea_registry: str
    gitea_user: str
    ca: Path


def cluster() -> Cluster:
    kubeconfig = need_file("kube-apiserver", "IDPKIT_RIG_KUBECONFIG")
    need_listening("kube-apiserver", need("kube-apiserver", "IDPKIT_RIG_KUBE_URL"))
    registry = need("gitea", "IDPKIT_RIG_GITEA_REGISTRY")
    need_listening("nginx (in front of gitea)", registry)
    need_listening("gitea", need("gitea", "IDPKIT_RIG_GITEA_HTTP_URL"))
    return Cluster(
        kubeconfig=kubeconfig,
        gitea_registry=registry,
        gitea_user=need("gitea", "IDPKIT_RIG_GITEA_USER"),
        ca=need_file("gitea", "IDPKIT_RIG_GITEA_CA"),
    )


def kube_apply(path: str, obj: dict[str, Any]) -> None:
    """Server-side applies ``obj`` at ``path`` of the rig's kube-apiserver, as tests/rig/up
    does (its bearer token, the rig CA)."""
    base = need("kube-apiserver", "IDPKIT_RIG_KUBE_URL")
    need_listening("kube-apiserver", base)
    token = need("kube-apiserver", "IDPKIT_RIG_KUBE_TOKEN")
    context = ssl.create_default_context(cafile=str(need_file("kube-apiserver", "IDPKIT_RIG_CA")))
    request = urllib.request.Request(
        f"{base}{path}?fieldManager=idpkit-test&force=true",
        data=json.dumps(obj).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/apply-patch+yaml",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            assert response.status in (200, 201), f"apply {path}: HTTP {response.status}"
    except urllib.error.HTTPError as e:
        pytest.fail(f"apply {path}: HTTP {e.code}: {e.read()[:600]!r}", pytrace=False)


def kube_get(path: str) -> dict[str, Any] | None:
    """The object at ``path`` of the rig's kube-apiserver (its bearer token, the rig CA), or
    None when it does not exist: the tests' own reader, independent of idpkit."""
    base = need("kube-apiserver", "IDPKIT_RIG_KUBE_URL")
    need_listening("kube-apiserver", base)
    token = need("kube-apiserver", "IDPKIT_RIG_KUBE_TOKEN")
    context = ssl.create_default_context(cafile=str(need_file("kube-apiserver", "IDPKIT_RIG_CA")))
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            got: dict[str, Any] = json.loads(response.read())
            return got
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        pytest.fail(f"get {path}: HTTP {e.code}: {e.read()[:600]!r}", pytrace=False)
