"""The exception hierarchy: one subclass of IdpkitError per core ErrorKind."""

from __future__ import annotations

import pickle

import pytest

import idpkit
from idpkit import _errors, _idpkit


def test_every_core_kind_has_a_class() -> None:
    assert [k.value for k in idpkit.ErrorKind] == _idpkit.ERROR_KINDS
    classes = {idpkit.error_class(code) for code in _idpkit.ERROR_KINDS}
    assert len(classes) == len(_idpkit.ERROR_KINDS)
    for code in _idpkit.ERROR_KINDS:
        cls = idpkit.error_class(code)
        assert issubclass(cls, idpkit.IdpkitError)
        assert cls.kind == code
        assert cls.__name__ in idpkit.__all__


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("INVALID_INPUT", idpkit.InvalidInputError),
        ("NOT_FOUND", idpkit.NotFoundError),
        ("AUTH", idpkit.AuthError),
        ("UNTRUSTED", idpkit.UntrustedCertificateError),
        ("INTEGRITY", idpkit.IntegrityError),
        ("UNSAFE_ARCHIVE", idpkit.UnsafeArchiveError),
        ("POLICY", idpkit.PolicyError),
        ("NETWORK", idpkit.NetworkError),
        ("CONFLICT", idpkit.ConflictError),
        ("CANCELLED", idpkit.CancelledError),
        ("IO", idpkit.StorageError),
        ("INTERNAL", idpkit.InternalError),
    ],
)
def test_native_errors_become_subclasses(code: str, cls: type[idpkit.IdpkitError]) -> None:
    err = _errors._from_native(code, "what failed; what to do")
    assert type(err) is cls
    assert err.kind is idpkit.ErrorKind(code)
    assert err.kind == code
    assert str(err) == err.message == "what failed; what to do"
    assert repr(err) == f"{cls.__name__}('what failed; what to do')"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and again.message == err.message


def test_python_friendly_bases() -> None:
    assert issubclass(idpkit.InvalidInputError, ValueError)
    assert issubclass(idpkit.NotFoundError, LookupError)
    assert idpkit.IoError is idpkit.StorageError
    assert not issubclass(idpkit.CancelledError, KeyboardInterrupt)


def test_unknown_kind_is_kept_in_the_message() -> None:
    err = _errors._from_native("SOMETHING_NEW", "boom")
    assert isinstance(err, idpkit.InternalError)
    assert "SOMETHING_NEW" in str(err)
