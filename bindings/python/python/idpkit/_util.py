"""Argument checking and the JSON documents handed to the native module (private)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

from . import _idpkit
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
    """A credential (user name, password, token): a ``str`` or ``None``. The value is never
    put in a message."""
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


def _as_is(name: str, value: Any) -> Any:
    """A scalar option: the core checks it when it reads the JSON document."""
    return value


#: Every registry keyword of the public API and how it becomes its ``RegistryOptions`` field
#: (the trust fields are the core's ``TrustOptions``, flattened into it).
_REGISTRY_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "insecure_hosts": _strings,
    "ca_files": _paths,
    "certs_d": _paths,
    "no_platform_roots": _as_is,
    "jobs": _as_is,
    "attempts": _as_is,
    "connect_timeout_secs": _as_is,
    "platform": _as_is,
    "mount_from": _strings,
}


def _registry_options(**fields: Any) -> str:
    """The JSON document of core ``RegistryOptions`` from a public call's registry keywords
    (passed on by name, as in ``_REGISTRY_FIELDS``); ``None`` keeps the core's default.
    Never holds credentials."""
    options: dict[str, Any] = {}
    for name, value in fields.items():
        convert = _REGISTRY_FIELDS.get(name)
        if convert is None:  # a keyword passed on under a wrong name: a bug in idpkit
            raise TypeError(f"{name!r} is not a registry option")
        checked = convert(name, value)
        if checked is not None:
            options[name] = checked
    return json.dumps(options)


def _call_args(
    doc: str,
    username: str | None,
    password: str | None,
    token: str | None,
    progress: ProgressCallback | None,
    cancel: _idpkit.CancelToken | None,
) -> _idpkit.RegistryCall:
    """The arguments every native registry call shares, as the one tuple it takes:
    ``doc`` (from :func:`_registry_options`), the credentials (checked without ever putting
    one in a message), the progress callback adapted to JSON text, and ``cancel``.

    Each is checked here, in the order the separate native arguments were, so a wrong type
    raises a :class:`TypeError` naming the keyword rather than a field of the tuple."""
    password = _secret("password", password)
    token = _secret("token", token)
    on_event = _wrap_progress(progress)
    username = _secret("username", username)
    if cancel is not None and not isinstance(cancel, _idpkit.CancelToken):
        raise TypeError(f"cancel must be an idpkit.CancelToken, got {type(cancel).__name__}")
    return (doc, username, password, token, on_event, cancel)
