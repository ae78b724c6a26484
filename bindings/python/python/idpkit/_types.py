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


#: A progress event as passed to a ``progress`` callback: a dict whose ``type`` says which.
#: Later versions add event types; a callback should ignore types it does not know.
Event = Union[
    BuildStartedEvent,
    LayerProgressEvent,
    LayerCachedEvent,
    LayerDoneEvent,
    ImageStoredEvent,
    WarningEvent,
]
