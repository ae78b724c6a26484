"""Watches as iterators: :func:`watch_flux`, :func:`watch_argo` (names in ``idpkit``).

The operation (``source_watch_flux``) blocks until it is cancelled and reports each revision
as a ``source_fetched`` event. Here it runs on a thread of its own and the events come out of
a generator, one :class:`SourceFetched` per revision; closing the generator (``break``,
``close()``, an exception in the loop, garbage collection) cancels the call and waits for it.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Callable, cast

from ._ops import source_watch_argo, source_watch_flux
from ._types import SourceFetched, SourceWatched
from ._util import CancelToken

if TYPE_CHECKING:
    from typing import ParamSpec

    _P = ParamSpec("_P")

__all__ = ["watch_argo", "watch_flux"]


def _revisions(
    op: Callable[_P, SourceWatched], name: str, doc: str
) -> Callable[_P, Generator[SourceFetched, None, SourceWatched]]:
    """``op`` (a watch operation) as a generator of the revisions it reports."""

    @functools.wraps(op)
    def watch(*args: _P.args, **kwargs: _P.kwargs) -> Generator[SourceFetched, None, SourceWatched]:
        options: dict[str, Any] = dict(kwargs)
        progress = options.pop("progress", None)
        cancel = options.pop("cancel", None) or CancelToken()
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable, got {type(progress).__name__}")
        # ("revision", event) | ("done", SourceWatched) | ("error", exception)
        items: queue.Queue[tuple[str, Any]] = queue.Queue()

        def on_event(event: Any) -> None:
            if event.get("type") == "source_fetched":
                items.put(("revision", event))
            if progress is not None:
                progress(event)

        def run() -> None:
            try:
                call = cast(Callable[..., SourceWatched], op)
                items.put(("done", call(*args, progress=on_event, cancel=cancel, **options)))
            except BaseException as e:  # handed to the generator, raised there
                items.put(("error", e))

        thread = threading.Thread(target=run, name=f"idpkit-{op.__name__}", daemon=True)
        thread.start()
        try:
            while True:
                what, value = items.get()
                if what == "revision":
                    yield SourceFetched._from_json(value)
                elif what == "done":
                    return cast(SourceWatched, value)
                else:
                    raise cast(BaseException, value)
        finally:
            cancel.cancel()
            thread.join()

    watch.__name__ = watch.__qualname__ = name
    watch.__doc__ = doc
    return watch


watch_flux = _revisions(
    source_watch_flux,
    "watch_flux",
    """Keeps a Flux source's entry in the source cache current, as a generator:
    yields a :class:`SourceFetched` for the source's revision, then for each new one, as
    ``source_watch_flux`` fetches them (same arguments). ``break`` (or ``close()``) cancels the
    watch and waits for it to stop; the generator's return value (``StopIteration.value``) is
    the :class:`SourceWatched` summary when the watch ends on ``cancel``. Errors of the watch
    (the source missing or deleted, the first fetch failing) are raised from the loop.
    ``progress`` still receives every event (warnings included).

    >>> for fetched in idpkit.watch_flux("GitRepository", "flux-system", "podinfo"):
    ...     deploy(fetched.path)
    """,
)


watch_argo = _revisions(
    source_watch_argo,
    "watch_argo",
    """Keeps an Argo CD Application's git sources current in the source cache, as a
    generator: yields a :class:`SourceFetched` for each git source, then again for each source
    whenever the Application's sources or synced revisions change, as ``source_watch_argo``
    fetches them (same arguments). ``break`` cancels the watch; the return value is the
    :class:`SourceWatched` summary.

    >>> for fetched in idpkit.watch_argo("argocd", "my-app"):
    ...     render(fetched.path)
    """,
)
