# Type stubs of the native module (src/lib.rs). Private: use the `idpkit` package.
# Options and results cross as JSON documents with the core's serde field names.

from typing import Callable, Final, final

VERSION: Final[str]
ERROR_KINDS: Final[list[str]]
# Serde names of the core's trust::Verdict, in declaration order.
VERDICTS: Final[list[str]]
DEFAULT_GITEA_HOST: Final[str]

def default_build_options() -> str: ...
def default_registry_options() -> str: ...
def default_cluster_options() -> str: ...

# Registry calls: `options` is a JSON object of RegistryOptions fields (never credentials).
def list_tags(
    repository: str,
    options: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...
def copy(
    source: str,
    destination: str,
    options: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...
def catalog(
    registry: str,
    options: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...
def delete(
    reference: str,
    options: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...
def login(
    registry: str,
    username: str,
    password: str,
    options: str,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...

# `cluster` is a JSON object of ClusterOptions fields.
def login_from_cluster(
    registry: str,
    cluster: str,
    options: str,
    progress: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str: ...
def logout(registry: str) -> str: ...

# Trust: `options` is a JSON object of TrustOptions fields.
def trust_check(host: str, options: str) -> str: ...
def trust_add(host: str, ca_file: str, certs_d: str | None = None) -> str: ...
def extract_ca(cluster: str) -> str: ...

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
