"""idpkit for asyncio: every operation as a coroutine, with the same arguments.

    >>> import asyncio, idpkit.aio
    >>> async def main() -> None:
    ...     async with idpkit.aio.Store("/tmp/store") as store:
    ...         result = await store.build("./app", tag="registry.local/team/app:dev")
    ...     tags = await idpkit.aio.list_tags("registry.local/team/app")
    >>> asyncio.run(main())

Each call runs the blocking core call on the event loop's default executor (a thread), so the
loop keeps turning. Cancelling the task (``task.cancel()``, ``asyncio.timeout``,
``asyncio.wait_for``) cancels the call in the core, waits for it to clean up (nothing
half-written stays in the store) and raises :class:`asyncio.CancelledError`. ``progress``
callbacks run on the loop's thread. Results, options, events and errors are those of
:mod:`idpkit`.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from . import _aio_ops
from ._aio_ops import *  # noqa: F403 (one coroutine per operation, generated)
from ._aio_ops import _AsyncStoreOperations
from ._store import _StoreHandle

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Store"]
__all__ += _aio_ops.__all__


class Store(_StoreHandle, _AsyncStoreOperations):
    """A local image store whose operations are coroutines: :class:`idpkit.Store` for asyncio.

    ``Store(path)`` opens (or creates) the store at ``path``, ``Store()`` the default store;
    ``async with`` (or ``with``) closes it when the block ends.
    """

    __slots__ = ()

    async def __aenter__(self) -> Self:
        self._native  # noqa: B018 (a closed store refuses to be entered)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    #: The operation ``import`` (a Python keyword): :meth:`import_`, by its earlier name.
    import_layout = _AsyncStoreOperations.import_


def __dir__() -> list[str]:
    return sorted(__all__)
