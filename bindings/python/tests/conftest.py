"""Fixtures shared by the idpkit tests: temporary stores and build contexts, credentials
kept away from the user's own, and a guard that no rig secret leaks into an exception or
a result's repr."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import idpkit
from idpkit import _errors

from .rig import assert_no_secret

#: Result types built from the native module's JSON; the guard records their reprs.
RESULT_TYPES: tuple[type[Any], ...] = (
    idpkit.BuildResult,
    idpkit.LayerInfo,
    idpkit.ImageSummary,
    idpkit.ImageInspect,
    idpkit.ImageManifest,
    idpkit.ImageIndex,
    idpkit.ImageConfig,
    idpkit.RemoteInspect,
    idpkit.GcReport,
    idpkit.PushResult,
    idpkit.PullResult,
    idpkit.LoginResult,
    idpkit.CertInfo,
    idpkit.TrustReport,
    idpkit.ExtractResult,
    idpkit.SourceFetched,
    idpkit.SourceListing,
    idpkit.GcResult,
    idpkit.SecretsDecrypted,
    idpkit.SecretsParsed,
    idpkit.SecretsPushed,
)


@pytest.fixture(autouse=True)
def _isolated_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins go to (and are looked up in) this test's temporary directory: the user's
    ~/.docker, $REGISTRY_AUTH_FILE and podman's auth.json are never read or written."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for var in (
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "IDPKIT_REGISTRY_TOKEN",
        "IDPKIT_REGISTRY_USERNAME",
        "IDPKIT_REGISTRY_PASSWORD",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def leak_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records the text of every exception the native module raises and the repr of every
    result it returns during a test; afterwards none may hold a rig secret (rig.env's
    passwords and tokens, or their base64 ``user:secret`` forms)."""
    seen: list[str] = []
    from_native = _errors._from_native

    def recording_from_native(code: str, message: str) -> _errors.IdpkitError:
        err = from_native(code, message)
        seen.extend((str(err), repr(err)))
        return err

    monkeypatch.setattr(_errors, "_from_native", recording_from_native)
    for cls in RESULT_TYPES:
        build = cls.__dict__["_from_json"].__func__

        def recording_from_json(c: type[Any], data: Any, _build: Any = build) -> Any:
            result = _build(c, data)
            seen.append(repr(result))
            return result

        monkeypatch.setattr(cls, "_from_json", classmethod(recording_from_json))
    yield seen
    for text in seen:
        assert_no_secret(text, "an exception or result repr")


def make_context(root: Path, files: dict[str, bytes | str]) -> Path:
    """Writes ``files`` (relative path -> content) under ``root`` and returns ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


@pytest.fixture
def store(tmp_path: Path) -> idpkit.Store:
    return idpkit.Store(tmp_path / "store")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return make_context(
        tmp_path / "ctx",
        {
            "app/main.py": "print('hello')\n",
            "app/data.bin": os.urandom(4096),
            "README.md": "# app\n",
            "secret.env": "TOKEN=x\n",
        },
    )


@pytest.fixture(scope="session")
def big_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 96 MiB of incompressible data in 768 files: a build that takes a while."""
    root = tmp_path_factory.mktemp("big")
    for i in range(768):
        (root / f"f{i:04}.bin").write_bytes(os.urandom(128 * 1024))
    return root
