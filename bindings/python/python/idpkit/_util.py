"""How the generated surface (``_ops.py``, ``_types.py``) reaches the native module (private).

Each generated function builds a dict of the core's option names and hands it to
:func:`_invoke` (the coroutines of ``idpkit.aio``: :func:`_ainvoke`), which turns it into the
options JSON of ``_idpkit.call``. The converters here
only catch what JSON would silently mangle (a ``str`` where a list belongs would split into
characters; paths need ``os.fspath``); every other check is the core's strict parser, which
names the field.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, Union

from . import _idpkit

if TYPE_CHECKING:
    from ._idpkit import Operation

#: A filesystem path: ``str`` or any ``os.PathLike`` such as :class:`pathlib.Path`.
StrPath = Union[str, "os.PathLike[str]"]

CancelToken = _idpkit.CancelToken
"""A cancellation flag: pass it as ``cancel=`` to a build, push, pull or other call, and call
``cancel()`` from any thread."""


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$")


def _parse_time(text: str) -> datetime:
    """An RFC 3339 time from the core as an aware ``datetime``. Written out because Python 3.9's
    ``fromisoformat`` takes neither ``Z`` nor more than six fraction digits (images built by
    other tools carry nanoseconds)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    day, clock, fraction, zone = m.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    offset = "+00:00" if zone in ("Z", "z") else zone
    parsed = datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}")
    return parsed.astimezone(timezone.utc) if offset == "+00:00" else parsed


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


def _paths(name: str, value: Sequence[StrPath] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a list of paths, not a single path")
    return [os.fspath(p) for p in value]


def _path(name: str, value: StrPath | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(value).__name__}")
    return os.fspath(value)


def _mapping(name: str, value: Mapping[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    out = dict(value)
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{name} must map strings to strings, got {k!r}: {v!r}")
    return out


def _tags(tag: str | Sequence[str] | None, tags: Sequence[str] | None) -> list[str] | None:
    """``build``'s tags: ``tag`` (a string or a list) and ``tags`` add up."""
    if tag is None and tags is None:
        return None
    out = [tag] if isinstance(tag, str) else _strings("tag", tag) or []
    return out + (_strings("tags", tags) or [])


class _Options(Protocol):
    """A generated option dataclass (``ClusterOptions``, ``RegistryOptions``)."""

    def _to_json(self) -> dict[str, Any]: ...


_O = TypeVar("_O", bound=_Options)


def _nested(name: str, value: _O | None, cls: type[_O]) -> dict[str, Any] | None:
    """A nested options object: an instance of its dataclass."""
    if value is None:
        return None
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be an idpkit.{cls.__name__}, got {type(value).__name__}")
    return value._to_json()


def _check_fields(obj: Any, kinds: Mapping[str, str]) -> None:
    """``__post_init__`` of a generated option dataclass: paths become :class:`Path`, lists
    tuples (so the instance stays hashable), and a string field is a string."""
    defaults = {f.name: f.default for f in dataclasses.fields(obj)}
    for name, kind in kinds.items():
        value = getattr(obj, name)
        if value is None:
            continue
        if kind == "path":
            value = Path(_path(name, value) or "")
        elif kind == "paths":
            value = tuple(Path(p) for p in _paths(name, value) or [])
        elif kind == "strings":
            value = tuple(_strings(name, value) or [])
        elif kind == "str":
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
            default = defaults[name]
            if not value and isinstance(default, str) and default:
                raise TypeError(f"{name} must be a non-empty string (default {default!r})")
        object.__setattr__(obj, name, value)


def _fields_to_json(obj: Any, kinds: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        value = getattr(obj, name)
        if value is not None and kind == "path":
            value = os.fspath(value)
        elif value is not None and kind in ("paths", "strings"):
            value = [os.fspath(v) for v in value]
        out[name] = value
    return out


def _secret(name: str, value: str | None) -> str | None:
    """A credential (user name, password, token): a ``str`` or ``None``. The value is never
    put in a message."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _wrap_progress(progress: Callable[[Any], object] | None) -> Callable[[str], None] | None:
    """Adapts a callback taking event dicts to the native one taking JSON text."""
    if progress is None:
        return None
    if not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}")
    callback = progress

    def on_event(raw: str) -> None:
        callback(json.loads(raw))

    return on_event


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _invoke(
    operation: Operation,
    store: _idpkit.Store | None,
    options: Mapping[str, Any],
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    source_username: str | None = None,
    source_password: str | None = None,
    source_token: str | None = None,
    progress: Callable[[Any], object] | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """Runs ``operation`` in the core and returns its result, parsed from JSON. ``None``
    options are left out, so the core's defaults apply. The credentials go to the native
    module as arguments of their own, never into the options JSON."""
    username = _secret("username", username)
    password = _secret("password", password)
    token = _secret("token", token)
    source_username = _secret("source_username", source_username)
    source_password = _secret("source_password", source_password)
    source_token = _secret("source_token", source_token)
    on_event = _wrap_progress(progress)
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError(f"cancel must be an idpkit.CancelToken, got {type(cancel).__name__}")
    doc = json.dumps({k: v for k, v in options.items() if v is not None}, default=_json_default)
    raw = _idpkit.call(
        operation,
        store,
        doc,
        username,
        password,
        token,
        source_username,
        source_password,
        source_token,
        on_event,
        cancel,
    )
    return json.loads(raw)


async def _ainvoke(
    operation: Operation,
    store: _idpkit.Store | None,
    options: Mapping[str, Any],
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    source_username: str | None = None,
    source_password: str | None = None,
    source_token: str | None = None,
    progress: Callable[[Any], object] | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """:func:`_invoke` for ``idpkit.aio``: runs the blocking call on the loop's default
    executor so the loop keeps turning. Cancelling the awaiting task cancels the call's token,
    waits for the core to stop (it removes what it half wrote) and re-raises
    :class:`asyncio.CancelledError`. Progress events are handed to the loop's thread, so a
    callback may touch loop-bound objects; if it raises, the call is cancelled and its
    exception propagates, as with the blocking functions."""
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError(f"cancel must be an idpkit.CancelToken, got {type(cancel).__name__}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}")
    # Every call gets a token, so a cancelled task can stop even one the caller gave none.
    call_token = cancel if cancel is not None else CancelToken()
    loop = asyncio.get_running_loop()
    failed: list[BaseException] = []

    def deliver(event: Any) -> None:  # on the loop's thread
        if failed or progress is None:
            return
        try:
            progress(event)
        except BaseException as e:  # re-raised from the awaiting task
            failed.append(e)
            call_token.cancel()

    def on_event(event: Any) -> None:  # on the call's worker thread
        loop.call_soon_threadsafe(deliver, event)

    job = functools.partial(
        _invoke,
        operation,
        store,
        options,
        username=username,
        password=password,
        token=token,
        source_username=source_username,
        source_password=source_password,
        source_token=source_token,
        progress=None if progress is None else on_event,
        cancel=call_token,
    )
    worker = loop.run_in_executor(None, job)
    # Its outcome is read below, or dropped when the task was cancelled: never "unretrieved".
    worker.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        # shield: cancelling the task must not drop the worker, which would run on unseen.
        result = await asyncio.shield(worker)
    except asyncio.CancelledError:
        call_token.cancel()
        # The core stops at its next check point and cleans up; wait for that, so when the
        # task's CancelledError arrives the store holds nothing half-written.
        await asyncio.wait([worker])
        raise
    except BaseException:
        if failed:
            raise failed[0] from None
        raise
    if failed:
        raise failed[0]
    return result
