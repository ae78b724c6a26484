"""Secrets through the binding: a file encrypted by the rig's real sops for a key from the
real age-keygen decrypts to its values, a tampered one is an IntegrityError, dotenv text
parses by dotenv's rules (``$(rm -rf ~)`` stays text), and secrets_push creates a Secret on
the rig's kube-apiserver, read back with the tests' own client. Without the rig these tests
fail, naming the peer.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import idpkit

from .rig import kube_apply, kube_get, need, need_file

NS = "idpkit-py-secrets-test"


@dataclass(frozen=True)
class Kit:
    sops: Path
    key_file: Path
    recipient: str
    dir: Path

    def encrypt(self, name: str, plain: str) -> Path:
        kind = "yaml" if name.endswith(".yaml") else "dotenv"
        src = self.dir / f"plain-{name}"
        src.write_text(plain)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_")}
        args = ["encrypt", "--age", self.recipient, "--input-type", kind, "--output-type", kind]
        done = subprocess.run(
            [str(self.sops), *args, str(src)],
            capture_output=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        src.unlink()
        out = self.dir / name
        out.write_bytes(done.stdout)
        return out


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    sops = need_file("sops (rig tool)", "IDPKIT_RIG_SOPS")
    keygen = shutil.which("age-keygen")
    if keygen is None:
        pytest.fail("age-keygen is not installed (the rig's setup installs it)", pytrace=False)
    key_file = tmp_path / "keys.txt"
    subprocess.run([keygen, "-o", str(key_file)], check=True, capture_output=True)
    recipient = next(
        line.removeprefix("# public key: ")
        for line in key_file.read_text().splitlines()
        if line.startswith("# public key: ")
    )
    return Kit(sops=sops, key_file=key_file, recipient=recipient, dir=tmp_path)


def test_decrypt_gives_the_values_and_a_tampered_file_is_an_integrity_error(kit: Kit) -> None:
    f = kit.encrypt(".env.sops", "DB_PASSWORD=py-hunter2-c3d9\nCMD=$(rm -rf ~)\n")
    got = idpkit.secrets_decrypt(f, age_key_file=kit.key_file)
    assert isinstance(got, idpkit.SecretsDecrypted)
    assert (got.format, got.encrypted) == ("dotenv", True)
    assert got.values == {"DB_PASSWORD": "py-hunter2-c3d9", "CMD": "$(rm -rf ~)"}
    assert "py-hunter2-c3d9" not in repr(got), "repr leaves the values out"

    text = f.read_text()
    mac = next(line for line in text.splitlines() if line.startswith("sops_mac="))
    at = mac.index("data:") + 5
    flipped = mac[:at] + ("B" if mac[at] == "A" else "A") + mac[at + 1 :]
    tampered = kit.dir / "tampered.env"
    tampered.write_text(text.replace(mac, flipped))
    with pytest.raises(idpkit.IntegrityError) as err:
        idpkit.secrets_decrypt(tampered, age_key_file=kit.key_file)
    assert err.value.kind == idpkit.ErrorKind.INTEGRITY
    assert "py-hunter2-c3d9" not in f"{err.value} {err.value!r}"


def test_parse_keeps_command_substitution_as_text() -> None:
    got = idpkit.secrets_parse('B=2\nCMD=$(rm -rf ~)\nA="${B} x"\n')
    assert isinstance(got, idpkit.SecretsParsed)
    assert got.values == {"B": "2", "CMD": "$(rm -rf ~)", "A": "2 x"}
    assert list(got.values) == ["B", "CMD", "A"], "file order"
    assert "rm -rf" not in repr(got)
    with pytest.raises(idpkit.InvalidInputError) as err:
        idpkit.secrets_parse('A=1\nB="py-open-8e1f\n', origin=".env.local")
    assert str(err.value).startswith(".env.local line 2:")
    assert "py-open-8e1f" not in str(err.value)


def test_push_creates_the_secret(kit: Kit) -> None:
    kubeconfig = need_file("kube-apiserver", "IDPKIT_RIG_KUBECONFIG")
    need("kube-apiserver", "IDPKIT_RIG_KUBE_URL")
    kube_apply(
        f"/api/v1/namespaces/{NS}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    )
    plain = kit.dir / ".env.claude-sandbox"
    plain.write_text("SHARED=py-plain-41aa\nPLAIN_ONLY=py-plain-only-02bc\n")
    enc = kit.encrypt(".env.sops", "SHARED=py-sops-7d3e\n")
    name = f"py-push-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    got = idpkit.secrets_push(
        NS,
        name,
        [plain, enc],
        age_key_file=kit.key_file,
        cluster=idpkit.KubeOptions(kubeconfig=kubeconfig),
    )
    assert isinstance(got, idpkit.SecretsPushed)
    assert (got.namespace, got.name, got.created) == (NS, name, True)
    assert got.keys == ("PLAIN_ONLY", "SHARED")
    assert "py-sops-7d3e" not in repr(got)
    secret = kube_get(f"/api/v1/namespaces/{NS}/secrets/{name}")
    assert secret is not None, "the Secret exists"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {"SHARED": "py-sops-7d3e", "PLAIN_ONLY": "py-plain-only-02bc"}
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "idpkit"
    assert secret["metadata"]["resourceVersion"] == got.resource_version

    cluster = idpkit.KubeOptions(kubeconfig=kubeconfig)
    again = idpkit.secrets_push(NS, name, [enc], age_key_file=kit.key_file, cluster=cluster)
    assert (again.created, again.keys) == (False, ("SHARED",))
    secret = kube_get(f"/api/v1/namespaces/{NS}/secrets/{name}")
    assert secret is not None and set(secret["data"]) == {"SHARED"}
