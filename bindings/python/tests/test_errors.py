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


def test_errors_are_shown_as_idpkits() -> None:
    import traceback

    assert repr(idpkit.NetworkError) == "<class 'idpkit.NetworkError'>"
    assert idpkit.NetworkError.__module__ == "idpkit"
    assert idpkit.StorageError.__module__ == "idpkit"
    assert repr(idpkit.CancelToken) == "<class 'idpkit.CancelToken'>"
    assert repr(idpkit.BuildResult) == "<class 'idpkit.BuildResult'>"
    try:
        idpkit.list_tags("Not A Repository!")
    except idpkit.InvalidInputError as err:
        shown = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "\nidpkit.InvalidInputError: " in shown
    assert "_errors" not in shown.splitlines()[-1]


def test_no_internal_names_in_dir() -> None:
    names = dir(idpkit)
    assert names == sorted(idpkit.__all__)
    assert [n for n in names if n.startswith("_")] == ["__version__"]
    assert "annotations" not in names and "aio" in names
    assert len(set(idpkit.__all__)) == len(idpkit.__all__)
    for name in idpkit.__all__:
        assert hasattr(idpkit, name), name


def test_every_public_name_has_a_docstring() -> None:
    import inspect

    for name in idpkit.__all__:
        obj = getattr(idpkit, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)):
            continue  # constants and type aliases: documented by `#:` comments and the docs
        text = inspect.getdoc(obj) or ""
        # A dataclass without one gets its signature ("Name(field: type, ...)").
        assert text and not text.startswith(f"{name}("), name
        if inspect.isclass(obj) and obj.__module__ == "idpkit":
            assert obj.__doc__, f"{name} inherits its docstring"


def test_a_bad_enum_value_names_the_field_and_the_choices(tmp_path: object) -> None:
    """serde's text reaches users as the core's strict parser words it: the option's name, the
    value and every allowed one; no Rust type or module name."""
    with pytest.raises(idpkit.InvalidInputError) as err:
        idpkit.resolve_options("build", {"compression": "brotli"})
    text = str(err.value)
    for word in ("compression", "brotli", "gzip", "zstd"):
        assert word in text, text
    for internal in ("idpkit::", "serde", "Compression", "BuildOptions", "::"):
        assert internal not in text, text
