"""The local image store: :class:`Store` and :class:`CancelToken`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from . import _idpkit
from ._types import (
    BuildResult,
    GcReport,
    ImageInspect,
    ImageSummary,
    PullResult,
    PushResult,
    StrPath,
)
from ._util import (
    ProgressCallback,
    _call_args,
    _mapping,
    _registry_options,
    _strings,
    _wrap_progress,
)

__all__ = ["CancelToken", "Compression", "ProgressCallback", "Store", "StrPath"]

#: Layer compression.
Compression = Literal["gzip", "zstd"]

CancelToken = _idpkit.CancelToken
"""A cancellation flag: pass it to a build, push, pull or other registry call, and call
``cancel()`` from any thread."""


class Store:
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

    def build(
        self,
        context: StrPath,
        *,
        tag: str | Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        from_: str | None = None,
        prefix: str = "/",
        entrypoint: Sequence[str] | None = None,
        cmd: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        platform: str | None = None,
        excludes: Sequence[str] | None = None,
        compression: Compression = "gzip",
        level: int | None = None,
        threads: int | None = None,
        source_date_epoch: int | None = None,
        no_cache: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> BuildResult:
        """Builds an image whose one new layer is the directory ``context``.

        ``tag``/``tags``: references to tag the image with (``app:dev``, ``reg/x/app:1``).
        ``from_``: a base image in this store (``None`` or ``"scratch"`` for none).
        ``prefix``: where the context lands in the image. ``entrypoint``, ``cmd``, ``env``,
        ``workdir``, ``user``, ``labels`` set the image config; ``annotations`` go on the
        manifest. ``platform``: ``os/arch[/variant]`` (default: the base's, else the host's).
        ``excludes``: patterns on top of the context's ``.dockerignore``. ``compression``
        and ``level``: ``gzip`` 0-9 (default 1) or ``zstd`` 1-22 (default 3); ``threads``
        never changes the output bytes. ``source_date_epoch``: timestamp of every entry
        (default ``$SOURCE_DATE_EPOCH``, else 0). ``no_cache``: re-read every file.

        ``progress`` is called with each event dict (see :data:`idpkit.Event`) from a worker
        thread. If it raises, the build is cancelled and its exception propagates from
        ``build``. ``cancel`` stops the build from another thread (:class:`CancelledError`);
        Ctrl-C stops it too and raises :class:`KeyboardInterrupt`. A stopped build leaves the
        store as it was.
        """
        all_tags: list[str] = []
        if isinstance(tag, str):
            all_tags.append(tag)
        else:
            all_tags += _strings("tag", tag) or []
        all_tags += _strings("tags", tags) or []
        options: dict[str, Any] = {
            "tags": all_tags,
            "from": from_,
            "prefix": prefix,
            "entrypoint": _strings("entrypoint", entrypoint),
            "cmd": _strings("cmd", cmd),
            "env": _mapping("env", env),
            "workdir": workdir,
            "user": user,
            "labels": _mapping("labels", labels),
            "annotations": _mapping("annotations", annotations),
            "platform": platform,
            "excludes": _strings("excludes", excludes),
            "compression": compression,
            "level": level,
            "threads": threads,
            "source_date_epoch": source_date_epoch,
            "no_cache": no_cache,
        }
        # Unset options are left out, so the core's defaults apply.
        doc = json.dumps({k: v for k, v in options.items() if v is not None})
        on_event = _wrap_progress(progress)
        raw = self._native.build(os.fspath(context), doc, on_event, cancel)
        return BuildResult._from_json(json.loads(raw))

    def images(self) -> list[ImageSummary]:
        """Every image in the store: one row per tag, untagged images once."""
        return [ImageSummary._from_json(d) for d in json.loads(self._native.images())]

    def tag(self, source: str, target: str) -> ImageSummary:
        """Points the tag ``target`` at the image ``source`` names; no blob is copied."""
        return ImageSummary._from_json(json.loads(self._native.tag(source, target)))

    def remove(self, reference: str) -> list[str]:
        """Removes a tag, or every entry of a digest (``sha256:...``); returns what went.

        Blobs stay until :meth:`gc`.
        """
        removed: list[str] = json.loads(self._native.remove(reference))
        return removed

    def inspect(self, reference: str) -> ImageInspect:
        """The manifest and config of an image, by tag or digest."""
        return ImageInspect._from_json(json.loads(self._native.inspect(reference)))

    def gc(self) -> GcReport:
        """Deletes blobs no image reaches, and leftovers of killed builds."""
        return GcReport._from_json(json.loads(self._native.gc()))

    def import_layout(
        self, path: StrPath, tag: str | None = None, name: str | None = None
    ) -> list[ImageSummary]:
        """Copies images from the OCI image layout at ``path`` (skopeo ``oci:``, umoci).

        ``tag`` picks the entry tagged so (default: every tagged entry). A bare tag like
        ``latest`` is stored as ``localhost/<directory name>:<tag>``, or as ``name`` when
        given. Every blob is verified against its digest.
        """
        raw = self._native.import_layout(os.fspath(path), tag, name)
        return [ImageSummary._from_json(d) for d in json.loads(raw)]

    def export(self, reference: str, path: StrPath, tag: str | None = None) -> ImageSummary:
        """Copies one image into the OCI image layout at ``path`` (created when missing).

        It is tagged ``tag`` there, by default the reference's own tag, so
        ``skopeo copy oci:PATH:TAG ...`` finds it.
        """
        raw = self._native.export(reference, os.fspath(path), tag)
        return ImageSummary._from_json(json.loads(raw))

    def push(
        self,
        source: str,
        destination: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        insecure_hosts: Sequence[str] | None = None,
        ca_files: Sequence[StrPath] | None = None,
        certs_d: Sequence[StrPath] | None = None,
        no_platform_roots: bool = False,
        jobs: int | None = None,
        attempts: int | None = None,
        connect_timeout_secs: int | None = None,
        mount_from: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PushResult:
        """Pushes the image ``source`` of this store to ``destination`` (default: ``source``,
        which then names the registry, like ``gitea.example:8443/team/app:dev``).

        Blobs the registry has are skipped, the rest go up ``jobs`` at a time (default 4),
        retried ``attempts`` times. Trust: the platform's roots, ``ca_files``, certs.d
        folders (``certs_d`` replaces the default roots); ``insecure_hosts`` skips TLS
        verification for those hosts only (audited by an ``insecure_connection`` event).
        Credentials: ``username`` + ``password``, or ``token``; by default they are looked up
        like ``idpkit login`` stores them. ``progress`` gets the events (``blob_*``,
        ``manifest_pushed``, ...); if it raises, the push is cancelled and its exception
        propagates. ``cancel`` stops it from another thread (:class:`CancelledError`); Ctrl-C
        stops it too and raises :class:`KeyboardInterrupt`.
        """
        doc = _registry_options(
            insecure_hosts=insecure_hosts,
            ca_files=ca_files,
            certs_d=certs_d,
            no_platform_roots=no_platform_roots,
            jobs=jobs,
            attempts=attempts,
            connect_timeout_secs=connect_timeout_secs,
            mount_from=mount_from,
        )
        call = _call_args(doc, username, password, token, progress, cancel)
        raw = self._native.push(source, destination, call)
        return PushResult._from_json(json.loads(raw))

    def pull(
        self,
        reference: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        insecure_hosts: Sequence[str] | None = None,
        ca_files: Sequence[StrPath] | None = None,
        certs_d: Sequence[StrPath] | None = None,
        no_platform_roots: bool = False,
        jobs: int | None = None,
        attempts: int | None = None,
        connect_timeout_secs: int | None = None,
        platform: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PullResult:
        """Pulls ``reference`` from its registry into this store, verifying every blob.

        An image index resolves to the manifest of ``platform`` (default: this machine's).
        Trust, credentials, ``progress``, ``cancel`` and Ctrl-C work as for :meth:`push`.
        """
        doc = _registry_options(
            insecure_hosts=insecure_hosts,
            ca_files=ca_files,
            certs_d=certs_d,
            no_platform_roots=no_platform_roots,
            jobs=jobs,
            attempts=attempts,
            connect_timeout_secs=connect_timeout_secs,
            platform=platform,
        )
        call = _call_args(doc, username, password, token, progress, cancel)
        raw = self._native.pull(reference, call)
        return PullResult._from_json(json.loads(raw))
