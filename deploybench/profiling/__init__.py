"""Isolated, honest measurement of one deployment configuration.

``profile(config, settings) -> ProfileResult`` runs the configuration in a fresh worker
process and never raises for a crashing configuration: segfaults, OOM kills, hangs and
unsupported kernels come back as ``status="crash"`` with a ``crash_kind``.
Importing this package does not import torch.
"""

from deploybench.profiling._types import (
    CrashKind,
    DeployConfig,
    ProfileResult,
    ProfileSettings,
    Status,
)
from deploybench.profiling.runner import (
    BACKENDS,
    PRECISIONS,
    THREADED_BACKENDS,
    profile,
    uses_threads,
)

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "THREADED_BACKENDS",
    "CrashKind",
    "DeployConfig",
    "ProfileResult",
    "ProfileSettings",
    "Status",
    "profile",
    "uses_threads",
]
