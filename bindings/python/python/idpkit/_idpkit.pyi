# Type stubs of the native module (src/lib.rs). Private: use the `idpkit` package.
# Options and results cross as JSON documents with the core's serde field names.

from typing import Callable, Final, final

VERSION: Final[str]
ERROR_KINDS: Final[list[str]]

def default_build_options() -> str: ...
def default_registry_options() -> str: ...
def list_tags(
    repository: str,
    options: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
) -> str: ...

# A cancellation flag; cancel() may be called from any thread.
@final
class CancelToken:
    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

@final
class Store:
    def __init__(self, path: str | None = None) -> None: ...
    @property
    def path(self) -> str: ...
    def build(
        self,
        context: str,
        options: str,
        progress: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> str: ...
    def images(self) -> str: ...
    def tag(self, source: str, target: str) -> str: ...
    def remove(self, reference: str) -> str: ...
    def inspect(self, reference: str) -> str: ...
    def gc(self) -> str: ...
    def import_layout(
        self, layout: str, tag: str | None = None, name: str | None = None
    ) -> str: ...
    def export(self, reference: str, layout: str, tag: str | None = None) -> str: ...
    def push(
        self,
        source: str,
        destination: str | None,
        options: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        progress: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> str: ...
    def pull(
        self,
        reference: str,
        options: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        progress: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> str: ...
