"""idpkit: build OCI images from directories without a daemon, and keep them in a local store.

    >>> import idpkit
    >>> store = idpkit.Store("/tmp/store")
    >>> result = store.build("./app", tag="registry.local/team/app:dev", env={"MODE": "prod"})
    >>> result.digest
    'sha256:...'

Every operation of the core is here under its name: the store's as methods of :class:`Store`
(``build``, ``push``, ``pull``, ...), the others as functions (:func:`list_tags`, :func:`copy`,
:func:`login`, :func:`trust_check`, :func:`trust_extract`, ...). Their keyword arguments are
the core's option names with the core's defaults; they are generated from the call contract.

Every call blocks and releases the GIL; errors are subclasses of :class:`IdpkitError`.
:mod:`idpkit.aio` has the same operations as coroutines for asyncio.
"""

# No `from __future__ import annotations` here: it would add `annotations` to the namespace.
from . import _idpkit, _ops, _types, aio
from ._compat import extract_ca
from ._errors import (
    AuthError,
    CancelledError,
    ConflictError,
    ErrorKind,
    IdpkitError,
    IntegrityError,
    InternalError,
    InvalidInputError,
    IoError,
    NetworkError,
    NotFoundError,
    PolicyError,
    StorageError,
    UnsafeArchiveError,
    UntrustedCertificateError,
    error_class,
)
from ._ops import *  # noqa: F403 (one function per operation, generated)
from ._store import Store
from ._types import *  # noqa: F403 (results, nested options, events, generated)
from ._util import CancelToken
from ._watch import watch_argo, watch_flux

#: The version of the idpkit core this package was built from.
__version__: str = _idpkit.VERSION

#: idpbuilder's Gitea host: the default ``host`` of :class:`ClusterOptions` and
#: :func:`trust_extract`.
DEFAULT_GITEA_HOST: str = _idpkit.DEFAULT_GITEA_HOST

__all__ = [
    "DEFAULT_GITEA_HOST",
    "AuthError",
    "CancelToken",
    "CancelledError",
    "ConflictError",
    "ErrorKind",
    "IdpkitError",
    "IntegrityError",
    "InternalError",
    "InvalidInputError",
    "IoError",
    "NetworkError",
    "NotFoundError",
    "PolicyError",
    "StorageError",
    "Store",
    "UnsafeArchiveError",
    "UntrustedCertificateError",
    "__version__",
    "aio",
    "error_class",
    "extract_ca",
    "watch_argo",
    "watch_flux",
]
__all__ += _ops.__all__
__all__ += _types.__all__


def _publish() -> None:
    """Names the public classes and functions after the package users import them from, so
    reprs, tracebacks and pickles say ``idpkit.NetworkError``, not ``idpkit._errors...``."""
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) or callable(obj):
            module = getattr(obj, "__module__", "")
            if module.startswith("idpkit._") and module != "idpkit._idpkit":
                obj.__module__ = __name__
    for name in aio.__all__:
        obj = getattr(aio, name)
        if getattr(obj, "__module__", "").startswith("idpkit._"):
            obj.__module__ = aio.__name__


_publish()
del _publish


def __dir__() -> list[str]:
    """``dir(idpkit)``: the public names only (the private submodules and helpers stay out)."""
    return sorted(__all__)
