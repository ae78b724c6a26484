"""Certificate trust: check what a host presents, install a CA, take the cluster's CA."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from . import _idpkit
from ._types import ClusterOptions, ExtractResult, StrPath, TrustReport
from ._util import _registry_options

__all__ = ["extract_ca", "trust_add", "trust_check"]


def trust_check(
    host: str,
    *,
    insecure_hosts: Sequence[str] | None = None,
    ca_files: Sequence[StrPath] | None = None,
    certs_d: Sequence[StrPath] | None = None,
    no_platform_roots: bool = False,
    cancel: _idpkit.CancelToken | None = None,
) -> TrustReport:
    """Handshakes with ``host[:port]`` (port 443 by default) using the roots a registry call
    with the same keywords would trust, and reports the chain and the verdict.

    It does not raise for an untrusted host: ``report.trusted`` is ``False``,
    ``report.verdict`` says why (:class:`Verdict`) and ``report.message`` how to fix it.
    Verification is never skipped, even for an ``insecure_hosts`` entry
    (``report.insecure`` says it is marked so). Bad trust inputs (an unreadable CA file)
    raise. ``cancel`` (a :class:`CancelToken`) or Ctrl-C stops a handshake that hangs
    (:class:`CancelledError`, or the ``KeyboardInterrupt``).
    """
    doc = _registry_options(
        insecure_hosts=insecure_hosts,
        ca_files=ca_files,
        certs_d=certs_d,
        no_platform_roots=no_platform_roots,
    )
    return TrustReport._from_json(json.loads(_idpkit.trust_check(host, doc, cancel)))


def trust_add(host: str, ca_file: StrPath, *, certs_d: StrPath | None = None) -> Path:
    """Trusts the PEM CA ``ca_file`` for ``host[:port]``: installs it as
    ``CERTS_D/HOST[:PORT]/ca.crt`` and returns that path. ``certs_d`` is one certs.d root
    (default idpkit's, ``~/.config/idpkit/certs.d``, which registry calls search).
    """
    raw = _idpkit.trust_add(
        host, os.fspath(ca_file), None if certs_d is None else os.fspath(certs_d)
    )
    return Path(json.loads(raw))


def extract_ca(
    cluster: ClusterOptions | None = None, *, cancel: _idpkit.CancelToken | None = None
) -> ExtractResult:
    """Reads idpbuilder's CA from the cluster (Secret ``default/idpbuilder-cert`` key
    ``ca.crt``, else ``ingress-nginx/idpbuilder-cert`` key ``tls.crt``) through the
    kubeconfig, checks it, and installs it for ``cluster.host`` under ``cluster.certs_d``.
    ``cancel`` or Ctrl-C stops it before anything is installed.
    """
    if cluster is None:
        cluster = ClusterOptions()
    elif not isinstance(cluster, ClusterOptions):
        raise TypeError(f"cluster must be an idpkit.ClusterOptions, got {type(cluster).__name__}")
    return ExtractResult._from_json(
        json.loads(_idpkit.extract_ca(json.dumps(cluster._to_json()), cancel))
    )
