"""Results and progress events: the core's serde types as frozen dataclasses and TypedDicts.

Field names are the core's (snake_case), the same ones the C ABI's JSON documents use.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, Union

#: A filesystem path: ``str`` or any ``os.PathLike`` such as :class:`pathlib.Path`.
StrPath = Union[str, "os.PathLike[str]"]


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


@dataclass(frozen=True)
class LoginResult:
    """What :func:`idpkit.login` / :func:`idpkit.login_from_cluster` stored (never the secret)."""

    registry: str
    """The registry (``host[:port]``) the credentials are for."""
    username: str
    stored_in: str
    """The file (``.../config.json``, ``$REGISTRY_AUTH_FILE``) or credential helper
    (``docker-credential-NAME``) they were written to."""

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> LoginResult:
        return cls(**_known(cls, data))


class Verdict(str, enum.Enum):
    """The outcome of a TLS handshake (:attr:`TrustReport.verdict`).

    Members are strings too: ``report.verdict == "expired"`` holds.
    """

    TRUSTED = "trusted"
    UNKNOWN_ISSUER = "unknown_issuer"
    """Signed by a CA none of the trust sources hold (or self-signed)."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_HOST = "wrong_host"
    """A valid chain, but not issued for this host name."""
    CLIENT_CERT_REQUIRED = "client_cert_required"
    """The server wants a client certificate (mutual TLS)."""
    BAD_CERTIFICATE = "bad_certificate"
    """Any other certificate problem (bad signature, wrong purpose, ...)."""
    NOT_TLS = "not_tls"
    """The port answered, but not with TLS (a plain-HTTP server)."""
    UNREACHABLE = "unreachable"
    """Nothing answered, or the handshake broke off."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CertInfo:
    """One certificate of the chain a host presented."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    names: tuple[str, ...]
    """DNS names and IP addresses of the subjectAltName extension."""
    self_signed: bool
    sha256: str
    """Fingerprint of the DER certificate (``sha256:...``)."""

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> CertInfo:
        values = _known(cls, data)
        values["names"] = tuple(data["names"])
        return cls(**values)


@dataclass(frozen=True)
class TrustReport:
    """What :func:`idpkit.trust_check` saw: the chain presented and the verdict."""

    host: str
    verdict: Verdict
    trusted: bool
    insecure: bool
    """The host is marked insecure: it would be used even though it is not trusted."""
    chain: tuple[CertInfo, ...]
    """Leaf first, as presented."""
    sources: tuple[str, ...]
    """Where the trusted roots came from (platform, ``ca_files``, certs.d files)."""
    message: str
    """What is wrong and the fix; empty when trusted."""

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> TrustReport:
        values = _known(cls, data)
        values["verdict"] = Verdict(data["verdict"])
        values["chain"] = tuple(CertInfo._from_json(c) for c in data["chain"])
        values["sources"] = tuple(data["sources"])
        return cls(**values)


#: idpbuilder's Gitea host: the default :attr:`ClusterOptions.host`.
DEFAULT_GITEA_HOST = "gitea.cnoe.localtest.me:8443"


@dataclass(frozen=True)
class ClusterOptions:
    """Which Kubernetes cluster to read idpbuilder's CA and Gitea credentials from.

    Paths may be ``str`` or ``os.PathLike``; they are kept as :class:`pathlib.Path`.
    """

    kubeconfig: StrPath | None = None
    """Kubeconfig file; default ``$KUBECONFIG`` (first entry), else ``~/.kube/config``."""
    context: str | None = None
    """Kubeconfig context; default its ``current-context``."""
    host: str = DEFAULT_GITEA_HOST
    """The host (``host[:port]``) :func:`idpkit.extract_ca` installs the CA for."""
    certs_d: StrPath | None = None
    """certs.d root :func:`idpkit.extract_ca` installs into; default idpkit's
    (``~/.config/idpkit/certs.d``)."""

    def __post_init__(self) -> None:
        for name in ("kubeconfig", "certs_d"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (str, os.PathLike)):
                    raise TypeError(f"{name} must be a path, got {type(value).__name__}")
                object.__setattr__(self, name, Path(value))
        if not isinstance(self.host, str) or not self.host:
            raise TypeError("host must be a non-empty string like 'gitea.example:8443'")
        if self.context is not None and not isinstance(self.context, str):
            raise TypeError(f"context must be a string, got {type(self.context).__name__}")

    def _to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"host": self.host}
        if self.kubeconfig is not None:
            doc["kubeconfig"] = os.fspath(self.kubeconfig)
        if self.context is not None:
            doc["context"] = self.context
        if self.certs_d is not None:
            doc["certs_d"] = os.fspath(self.certs_d)
        return doc


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`idpkit.extract_ca` installed."""

    host: str
    path: Path
    """The file written (``.../certs.d/HOST/ca.crt``)."""
    source: str
    """``namespace/name key`` of the Secret the CA came from."""
    subject: str
    not_after: str

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ExtractResult:
        values = _known(cls, data)
        values["path"] = Path(data["path"])
        return cls(**values)


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
