"""Watching a Flux source: a GitRepository this test creates in the rig's kube-apiserver, its
status set as source-controller sets it (the fixture's tarball, then one this test serves from
the rig's nginx). ``idpkit.watch_flux`` yields each revision; ``break`` cancels the watch.

Without the rig these tests fail, naming the peer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import ssl
import tarfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import idpkit

from .rig import need, need_file, need_listening

_FLUX = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/"


def _patch(path: str, content_type: str, body: object) -> None:
    """A PATCH to the rig's kube-apiserver with its static token, trusting the rig CA."""
    url = need("kube-apiserver", "IDPKIT_RIG_KUBE_URL")
    need_listening("kube-apiserver", url)
    context = ssl.create_default_context(cafile=str(need_file("kube-apiserver", "IDPKIT_RIG_CA")))
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={
            "Content-Type": content_type,
            "Authorization": "Bearer " + need("kube-apiserver", "IDPKIT_RIG_KUBE_TOKEN"),
        },
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        assert response.status < 300, response.status


def _ready(name: str, url: str, revision: str, digest: str) -> None:
    """GitRepository flux-system/``name``, Ready with its artifact at ``url``."""
    _patch(
        f"{_FLUX}{name}?fieldManager=idpkit-pytest&force=true",
        "application/apply-patch+yaml",
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"url": "https://example.invalid/x.git"},
        },
    )
    _patch(
        f"{_FLUX}{name}/status",
        "application/merge-patch+json",
        {
            "status": {
                "artifact": {"url": url, "revision": revision, "digest": digest},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Succeeded",
                        "message": "stored",
                        "lastTransitionTime": "2026-12-03T00:00:00Z",
                    }
                ],
            }
        },
    )


def _serve(name: str, content: bytes) -> tuple[Path, str, str]:
    """A gzipped tar of ``b.txt`` where the rig's nginx serves it: path, URL, digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("b.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    data = gzip.compress(raw.getvalue())
    directory = Path(need("nginx", "IDPKIT_RIG_DIR")) / "artifacts"
    path = directory / f"{name}.tar.gz"
    tmp = directory / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.rename(path)
    base = need("nginx", "IDPKIT_RIG_ARTIFACT_URL").rsplit("/", 1)[0]
    return path, f"{base}/{name}.tar.gz", "sha256:" + hashlib.sha256(data).hexdigest()


def test_watch_flux_yields_each_revision_and_break_cancels(tmp_path: Path) -> None:
    name = f"py-watch-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    url_a = need("nginx", "IDPKIT_RIG_ARTIFACT_URL")
    digest_a = "sha256:" + need("nginx", "IDPKIT_RIG_ARTIFACT_SHA256")
    rev_a, rev_b = "main@sha1:" + "a" * 40, "main@sha1:" + "b" * 40
    _ready(name, url_a, rev_a, digest_a)
    served, url_b, digest_b = _serve(name, b"revision b")
    cache = tmp_path / "cache"
    # The bound of the whole test: a watch that never yields ends when this fires.
    guard = idpkit.CancelToken()
    timer = threading.Timer(60, guard.cancel)
    timer.start()
    seen: list[idpkit.SourceFetched] = []
    events: list[str] = []
    try:
        watch = idpkit.watch_flux(
            "GitRepository",
            "flux-system",
            name,
            cluster=idpkit.KubeOptions(
                kubeconfig=need_file("kube-apiserver", "IDPKIT_RIG_KUBECONFIG")
            ),
            cache=cache,
            ca_files=[need_file("nginx", "IDPKIT_RIG_CA")],
            no_platform_roots=True,
            certs_d=[],
            progress=lambda e: events.append(e["type"]),
            cancel=guard,
        )
        for fetched in watch:
            seen.append(fetched)
            if len(seen) == 1:
                _ready(name, url_b, rev_b, digest_b)
            else:
                break
        started = time.monotonic()
        watch.close()  # already closed by the break: a no-op
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
        served.unlink(missing_ok=True)
    assert [f.revision for f in seen] == [rev_a, rev_b], "the guard fired before two revisions"
    assert seen[0].path == cache / "flux-artifact" / "flux-system" / name / "main-sha-aaaaaaa"
    assert (seen[0].path / "README.md").is_file()
    assert not seen[0].hit
    assert (seen[1].path / "b.txt").read_bytes() == b"revision b"
    assert events == ["source_fetched", "source_fetched"]
    # The break cancelled the call (the token given was the one cancelled).
    assert guard.cancelled
