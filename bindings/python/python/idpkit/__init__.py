"""idpkit: build OCI images from directories without a daemon, and keep them in a local store.

    >>> import idpkit
    >>> store = idpkit.Store("/tmp/store")
    >>> result = store.build("./app", tag="registry.local/team/app:dev", env={"MODE": "prod"})
    >>> result.digest
    'sha256:...'

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
from ._store import CancelToken, Compression, ProgressCallback, Store, StrPath, list_tags
from ._types import (
    BlobDoneEvent,
    BlobMountedEvent,
    BlobProgressEvent,
    BlobSkippedEvent,
    BlobStartedEvent,
    BuildResult,
    BuildStartedEvent,
    Event,
    GcReport,
    ImageInspect,
    ImageStoredEvent,
    ImageSummary,
    InsecureConnectionEvent,
    LayerCachedEvent,
    LayerDoneEvent,
    LayerInfo,
    LayerProgressEvent,
    ManifestPushedEvent,
    PullResult,
    PushResult,
    RetryScheduledEvent,
    WarningEvent,
)

#: The version of the idpkit core this package was built from.
__version__: str = _idpkit.VERSION

__all__ = [
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
    "Compression",
    "ConflictError",
    "ErrorKind",
    "Event",
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
    "UnsafeArchiveError",
    "UntrustedCertificateError",
    "WarningEvent",
    "__version__",
    "error_class",
    "list_tags",
]
