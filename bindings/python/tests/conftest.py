"""Fixtures shared by the idpkit tests: temporary stores and build contexts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import idpkit


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
