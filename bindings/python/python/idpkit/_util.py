"""Argument checking and the JSON documents handed to the native module (private)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

from ._types import Event, StrPath

#: A progress callback: called with each event dict, from a worker thread, with the GIL held.
ProgressCallback = Callable[[Event], object]


def _strings(name: str, value: Iterable[str] | None) -> list[str] | None:
    """A list of strings; a lone ``str`` is refused (it would split into characters)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, like [{value!r}], not a string")
    out = list(value)
    for item in out:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold strings, got {type(item).__name__}: {item!r}")
    return out


def _mapping(name: str, value: Mapping[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    out = dict(value)
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{name} must map strings to strings, got {k!r}: {v!r}")
    return out


def _secret(name: str, value: str | None) -> str | None:
    """A password or token: a ``str`` or ``None``. The value is never put in a message."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _wrap_progress(progress: ProgressCallback | None) -> Callable[[str], None] | None:
    """Adapts a callback taking event dicts to the native one taking JSON text."""
    if progress is None:
        return None
    if not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}")
    callback = progress

    def on_event(raw: str) -> None:
        callback(json.loads(raw))

    return on_event


def _paths(name: str, value: Sequence[StrPath] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a list of paths, not a single path")
    return [os.fspath(p) for p in value]


def _registry_options(
    *,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    jobs: int | None = None,
    attempts: int | None = None,
    connect_timeout_secs: int | None = None,
    platform: str | None = None,
    mount_from: Sequence[str] | None = None,
) -> str:
    """The JSON document of core ``RegistryOptions`` (whose trust fields are the core's
    ``TrustOptions``); unset options keep the core's defaults. Never holds credentials."""
    options: dict[str, Any] = {
        "insecure_hosts": _strings("insecure_hosts", insecure_hosts),
        "ca_files": _paths("ca_files", ca_files),
        "certs_d": _paths("certs_d", certs_d),
        "no_platform_roots": no_platform_roots,
        "jobs": jobs,
        "attempts": attempts,
        "connect_timeout_secs": connect_timeout_secs,
        "platform": platform,
        "mount_from": _strings("mount_from", mount_from),
    }
    return json.dumps({k: v for k, v in options.items() if v is not None})
