"""idpkit: build OCI images from directories without a daemon, and keep them in a local store.

    >>> import idpkit
    >>> store = idpkit.Store("/tmp/store")
    >>> result = store.build("./app", tag="registry.local/team/app:dev", env={"MODE": "prod"})
    >>> result.digest
    'sha256:...'

Registries: :meth:`Store.push` / :meth:`Store.pull`, and :func:`copy`, :func:`list_tags`,
:func:`catalog`, :func:`delete`, :func:`login`, :func:`logout`. Trust: :func:`trust_check`,
:func:`trust_add`, :func:`extract_ca` (idpbuilder's CA from the cluster).

Every call blocks and releases the GIL; errors are subclasses of :class:`IdpkitError`.
"""

from __future__ import annotations

from . import _idpkit
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
from ._registry import catalog, copy, delete, list_tags, login, login_from_cluster, logout
from ._store import CancelToken, Compression, Store
from ._trust import extract_ca, trust_add, trust_check
from ._types import (
    DEFAULT_GITEA_HOST,
    BlobDoneEvent,
    BlobMountedEvent,
    BlobProgressEvent,
    BlobSkippedEvent,
    BlobStartedEvent,
    BuildResult,
    BuildStartedEvent,
    CertInfo,
    ClusterOptions,
    Event,
    ExtractResult,
    GcReport,
    ImageInspect,
    ImageStoredEvent,
    ImageSummary,
    InsecureConnectionEvent,
    LayerCachedEvent,
    LayerDoneEvent,
    LayerInfo,
    LayerProgressEvent,
    LoginResult,
    ManifestPushedEvent,
    PullResult,
    PushResult,
    RetryScheduledEvent,
    StrPath,
    TrustReport,
    Verdict,
    WarningEvent,
)
from ._util import ProgressCallback

#: The version of the idpkit core this package was built from.
__version__: str = _idpkit.VERSION

__all__ = [
    "DEFAULT_GITEA_HOST",
    "AuthError",
    "BlobDoneEvent",
    "BlobMountedEvent",
    "BlobProgressEvent",
    "BlobSkippedEvent",
    "BlobStartedEvent",
    "BuildResult",
    "BuildStartedEvent",
    "CancelToken",
    "CancelledError",
    "CertInfo",
    "ClusterOptions",
    "Compression",
    "ConflictError",
    "ErrorKind",
    "Event",
    "ExtractResult",
    "GcReport",
    "IdpkitError",
    "ImageInspect",
    "ImageStoredEvent",
    "ImageSummary",
    "InsecureConnectionEvent",
    "IntegrityError",
    "InternalError",
    "InvalidInputError",
    "IoError",
    "LayerCachedEvent",
    "LayerDoneEvent",
    "LayerInfo",
    "LayerProgressEvent",
    "LoginResult",
    "ManifestPushedEvent",
    "NetworkError",
    "NotFoundError",
    "PolicyError",
    "ProgressCallback",
    "PullResult",
    "PushResult",
    "RetryScheduledEvent",
    "StorageError",
    "Store",
    "StrPath",
    "TrustReport",
    "UnsafeArchiveError",
    "UntrustedCertificateError",
    "Verdict",
    "WarningEvent",
    "__version__",
    "catalog",
    "copy",
    "delete",
    "error_class",
    "extract_ca",
    "list_tags",
    "login",
    "login_from_cluster",
    "logout",
    "trust_add",
    "trust_check",
]
