"""The local image store: :class:`Store`. Its operations are generated (``_ops.py``; the
coroutines of ``idpkit.aio.Store``: ``_aio_ops.py``)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only (never evaluated): no runtime dependency on 3.9
    from typing_extensions import Self

from . import _idpkit
from ._errors import InvalidInputError
from ._ops import _StoreOperations
from ._util import StrPath

__all__ = ["Store"]


class _StoreHandle:
    """Opening, closing and naming a store: shared by :class:`Store` and ``idpkit.aio.Store``."""

    __slots__ = ("_handle", "_path")

    def __init__(self, path: StrPath | None = None) -> None:
        self._handle: _idpkit.Store | None = _idpkit.Store(
            None if path is None else os.fspath(path)
        )
        self._path = Path(self._handle.path)

    @property
    def _native(self) -> _idpkit.Store:
        if self._handle is None:
            cls = f"{type(self).__module__}.{type(self).__qualname__}"
            raise InvalidInputError(
                f"the store {str(self._path)!r} is closed; open it again with "
                f"{cls}({str(self._path)!r})"
            )
        return self._handle

    @property
    def path(self) -> Path:
        """The store's root directory."""
        return self._path

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the ``with`` block it was opened by ended)."""
        return self._handle is None

    def close(self) -> None:
        """Releases the native store handle; later calls raise :class:`InvalidInputError`.
        Calls still running keep their own reference and finish. Closing twice is harmless."""
        self._handle = None

    def __enter__(self) -> Self:
        self._native  # noqa: B018 (a closed store refuses to be entered)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        closed = ", closed" if self._handle is None else ""
        return f"{type(self).__qualname__}({str(self._path)!r}{closed})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, _StoreHandle)
            and (self._path == other._path)
        )

    def __hash__(self) -> int:
        return hash(self._path)


class Store(_StoreHandle, _StoreOperations):
    """A local OCI image-layout store (``oci-layout``, ``index.json``, ``blobs/``).

    ``Store(path)`` opens the store at ``path``, creating an empty layout when the directory
    is missing or empty; ``Store()`` opens the default store (``$IDPKIT_STORE``, else
    ``$XDG_DATA_HOME/idpkit/store``). A store is safe to share between threads and
    processes; every method releases the GIL while it works.

    ``with idpkit.Store(path) as store:`` closes it when the block ends (:meth:`close`).
    """

    __slots__ = ()

    #: The operation ``import`` (a Python keyword): :meth:`import_`, by its earlier name.
    import_layout = _StoreOperations.import_
