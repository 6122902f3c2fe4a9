"""DeployBench: honest ML deployment measurements and crash-prone benchmarks for Optuna.

``optimize_deployment`` and ``DeploymentObjective`` are imported lazily on first access;
importing ``deploybench`` never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deploybench.deployment.objective import DeploymentObjective
    from deploybench.optimize import optimize_deployment

__all__ = ["DeploymentObjective", "optimize_deployment"]


def __getattr__(name: str) -> Any:
    if name == "optimize_deployment":
        from deploybench.optimize import optimize_deployment

        return optimize_deployment
    if name == "DeploymentObjective":
        from deploybench.deployment.objective import DeploymentObjective

        return DeploymentObjective
    raise AttributeError(f"module 'deploybench' has no attribute {name!r}")
