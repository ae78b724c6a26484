"""Results and progress events: the core's serde types as frozen dataclasses and TypedDicts.

Field names are the core's (snake_case), the same ones the C ABI's JSON documents use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Union


def _known(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that ``cls`` declares; a field a newer core adds is dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class LayerInfo:
    """One layer as stored."""

    digest: str
    """Digest of the compressed blob (``sha256:...``)."""
    diff_id: str
    """Digest of the uncompressed tar."""
    size: int
    """Compressed size in bytes."""
    media_type: str

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> LayerInfo:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class BuildResult:
    """What :meth:`Store.build` produced."""

    digest: str
    """Manifest digest (``sha256:...``): the image's identity."""
    config_digest: str
    layer: LayerInfo
    """The layer built from the context."""
    tags: tuple[str, ...]
    """Tags now pointing at the image (normalized references)."""
    cached: bool
    """Whether the layer came from the layer cache."""
    size: int
    """Compressed size of all layers plus config and manifest."""
    entries: int
    """Files and directories written into the layer."""

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> BuildResult:
        values = _known(cls, data)
        values["layer"] = LayerInfo._from_json(data["layer"])
        values["tags"] = tuple(data["tags"])
        return cls(**values)


@dataclass(frozen=True)
class ImageSummary:
    """One image (one row per tag) in a store or layout."""

    reference: str | None
    """The normalized reference it is tagged with, or ``None`` for an untagged image."""
    digest: str
    size: int
    """Manifest, config and layers, compressed."""
    created: str | None
    """The config's ``created`` timestamp (RFC 3339), if any."""
    media_type: str

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ImageSummary:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class ImageInspect:
    """The parsed manifest and config of an image (as the JSON documents' dicts)."""

    reference: str | None
    digest: str
    manifest: dict[str, Any] = field(repr=False, hash=False, compare=True)
    config: dict[str, Any] = field(repr=False, hash=False, compare=True)

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ImageInspect:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class GcReport:
    """What :meth:`Store.gc` removed."""

    removed_blobs: int
    freed_bytes: int

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> GcReport:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class PushResult:
    """What :meth:`Store.push` did."""

    reference: str
    """The remote reference pushed to."""
    digest: str
    """Digest of the pushed manifest (or index)."""
    blobs_uploaded: int
    blobs_skipped: int
    blobs_mounted: int
    bytes_uploaded: int
    unchanged: bool
    """The manifest was already there under the tag: nothing was sent."""

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> PushResult:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class PullResult:
    """What :meth:`Store.pull` did."""

    reference: str
    """The store reference the image is tagged with."""
    digest: str
    """Digest of the stored manifest."""
    index_digest: str | None
    """When the remote reference is an index: its digest (the manifest is the platform's)."""
    blobs_fetched: int
    blobs_present: int
    bytes_fetched: int

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> PullResult:
        return cls(**_known(cls, data))


class BuildStartedEvent(TypedDict):
    """A build started reading its context."""

    type: Literal["build_started"]
    context: str


class LayerProgressEvent(TypedDict):
    """File content read into the layer so far (sent at most every few MiB)."""

    type: Literal["layer_progress"]
    files: int
    bytes: int


class LayerCachedEvent(TypedDict):
    """The layer came from the layer cache: nothing was re-read."""

    type: Literal["layer_cached"]
    digest: str


class LayerDoneEvent(TypedDict):
    """The layer is written and hashed."""

    type: Literal["layer_done"]
    digest: str
    diff_id: str
    size: int


class ImageStoredEvent(TypedDict):
    """An image manifest was stored (and tagged)."""

    type: Literal["image_stored"]
    digest: str
    tags: list[str]


class WarningEvent(TypedDict):
    """Something was skipped or looks wrong but the operation goes on."""

    type: Literal["warning"]
    message: str


class BlobStartedEvent(TypedDict):
    """A blob upload or download started."""

    type: Literal["blob_started"]
    digest: str
    size: int


class BlobProgressEvent(TypedDict):
    """Bytes of a blob transferred so far (sent every few MiB)."""

    type: Literal["blob_progress"]
    digest: str
    bytes: int
    size: int


class BlobDoneEvent(TypedDict):
    """A blob transfer finished and was verified."""

    type: Literal["blob_done"]
    digest: str
    size: int


class BlobSkippedEvent(TypedDict):
    """The registry (or the store) already had the blob: nothing was sent."""

    type: Literal["blob_skipped"]
    digest: str


class BlobMountedEvent(TypedDict):
    """The registry linked the blob from another repository instead of an upload."""

    type: Literal["blob_mounted"]
    digest: str
    # `from` is a keyword: read it as event["from"].


class ManifestPushedEvent(TypedDict):
    """A manifest was accepted by the registry."""

    type: Literal["manifest_pushed"]
    digest: str
    reference: str


class RetryScheduledEvent(TypedDict):
    """A request failed transiently and will be tried again after ``delay_ms``."""

    type: Literal["retry_scheduled"]
    what: str
    attempt: int
    delay_ms: int
    reason: str


class InsecureConnectionEvent(TypedDict):
    """Audit: TLS verification was skipped, or plain HTTP used, for a host marked insecure."""

    type: Literal["insecure_connection"]
    host: str
    reason: str


#: A progress event as passed to a ``progress`` callback: a dict whose ``type`` says which.
#: Later versions add event types; a callback should ignore types it does not know.
Event = Union[
    BuildStartedEvent,
    LayerProgressEvent,
    LayerCachedEvent,
    LayerDoneEvent,
    ImageStoredEvent,
    WarningEvent,
    BlobStartedEvent,
    BlobProgressEvent,
    BlobDoneEvent,
    BlobSkippedEvent,
    BlobMountedEvent,
    ManifestPushedEvent,
    RetryScheduledEvent,
    InsecureConnectionEvent,
]
