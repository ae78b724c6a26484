"""The local image store: :class:`Store`. Its operations are generated (``_ops.py``)."""

from __future__ import annotations

import os
from pathlib import Path

from . import _idpkit
from ._ops import _StoreOperations
from ._util import StrPath

__all__ = ["Store"]


class Store(_StoreOperations):
    """A local OCI image-layout store (``oci-layout``, ``index.json``, ``blobs/``).

    ``Store(path)`` opens the store at ``path``, creating an empty layout when the directory
    is missing or empty; ``Store()`` opens the default store (``$IDPKIT_STORE``, else
    ``$XDG_DATA_HOME/idpkit/store``). A store is safe to share between threads and
    processes; every method releases the GIL while it works.
    """

    __slots__ = ("_native",)

    def __init__(self, path: StrPath | None = None) -> None:
        self._native = _idpkit.Store(None if path is None else os.fspath(path))

    @property
    def path(self) -> Path:
        """The store's root directory."""
        return Path(self._native.path)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    #: The operation ``import`` (a Python keyword): :meth:`import_`, by its earlier name.
    import_layout = _StoreOperations.import_
