"""Exceptions: one subclass of :class:`IdpkitError` per core ``ErrorKind``.

The native module builds them through :func:`_from_native`, so every error the core reports
arrives as the subclass of its kind, with the core's message (what failed, where, what to do).
"""

from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    """The stable, machine-readable class of an idpkit failure.

    Members are strings too: ``err.kind == "NOT_FOUND"`` holds.
    """

    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    AUTH = "AUTH"
    UNTRUSTED = "UNTRUSTED"
    INTEGRITY = "INTEGRITY"
    UNSAFE_ARCHIVE = "UNSAFE_ARCHIVE"
    POLICY = "POLICY"
    NETWORK = "NETWORK"
    CONFLICT = "CONFLICT"
    CANCELLED = "CANCELLED"
    IO = "IO"
    INTERNAL = "INTERNAL"

    def __str__(self) -> str:
        return self.value


class IdpkitError(Exception):
    """Base class of every error idpkit raises; ``kind`` says which class of failure it is."""

    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInputError(IdpkitError, ValueError):
    """A malformed reference, option, pattern or path was passed."""

    kind = ErrorKind.INVALID_INPUT


class NotFoundError(IdpkitError, LookupError):
    """A file, image, tag, blob or remote object does not exist."""

    kind = ErrorKind.NOT_FOUND


class AuthError(IdpkitError):
    """Credentials were missing or rejected."""

    kind = ErrorKind.AUTH


class UntrustedCertificateError(IdpkitError):
    """A TLS peer was not trusted (unknown issuer, expired, wrong host, ...)."""

    kind = ErrorKind.UNTRUSTED


class IntegrityError(IdpkitError):
    """Content did not match its digest or size."""

    kind = ErrorKind.INTEGRITY


class UnsafeArchiveError(IdpkitError):
    """An archive tried to escape its destination or exceeded a limit."""

    kind = ErrorKind.UNSAFE_ARCHIVE


class PolicyError(IdpkitError):
    """A policy (push guard, insecure-host rules, ...) forbade the operation."""

    kind = ErrorKind.POLICY


class NetworkError(IdpkitError):
    """A network peer could not be reached or misbehaved."""

    kind = ErrorKind.NETWORK


class ConflictError(IdpkitError):
    """A concurrent modification, or the object already exists."""

    kind = ErrorKind.CONFLICT


class CancelledError(IdpkitError):
    """The operation was cancelled through its :class:`idpkit.CancelToken`."""

    kind = ErrorKind.CANCELLED


class StorageError(IdpkitError):
    """Local storage failed: disk full, permission denied, read error."""

    kind = ErrorKind.IO


#: The name of the core's kind (``IO``), for those who look for it.
IoError = StorageError


class InternalError(IdpkitError):
    """A bug in idpkit; please report it with the message."""

    kind = ErrorKind.INTERNAL


_BY_KIND: dict[ErrorKind, type[IdpkitError]] = {
    cls.kind: cls
    for cls in (
        InvalidInputError,
        NotFoundError,
        AuthError,
        UntrustedCertificateError,
        IntegrityError,
        UnsafeArchiveError,
        PolicyError,
        NetworkError,
        ConflictError,
        CancelledError,
        StorageError,
        InternalError,
    )
}


def error_class(kind: ErrorKind | str) -> type[IdpkitError]:
    """The exception class raised for ``kind`` (an :class:`ErrorKind` or its code)."""
    return _BY_KIND[ErrorKind(kind)]


def _from_native(code: str, message: str) -> IdpkitError:
    """Called by the native module to turn a core error into an exception instance."""
    try:
        return error_class(code)(message)
    except ValueError:
        # A kind newer than this Python layer: keep the message and say which kind it was.
        return InternalError(f"{message} (error kind {code})")
