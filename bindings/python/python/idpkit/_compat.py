"""Earlier names kept for existing callers."""

from __future__ import annotations

import warnings

from ._ops import trust_extract
from ._types import ClusterOptions, ExtractResult
from ._util import CancelToken

__all__ = ["extract_ca"]


def extract_ca(
    cluster: ClusterOptions | None = None, *, cancel: CancelToken | None = None
) -> ExtractResult:
    """Deprecated: the operation is ``trust_extract`` in every front end; call
    ``idpkit.trust_extract(kubeconfig=..., context=..., host=..., certs_d=...)``."""
    warnings.warn(
        "idpkit.extract_ca is deprecated: use idpkit.trust_extract(kubeconfig=..., context=..., "
        "host=..., certs_d=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    if cluster is None:
        cluster = ClusterOptions()
    elif not isinstance(cluster, ClusterOptions):
        raise TypeError(f"cluster must be an idpkit.ClusterOptions, got {type(cluster).__name__}")
    return trust_extract(**{name: getattr(cluster, name) for name in cluster._KINDS}, cancel=cancel)
