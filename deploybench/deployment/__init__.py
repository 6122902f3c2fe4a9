"""The deployment search space, scenarios, model registry and Optuna objective.

Nothing here imports torch at import time.
"""

from deploybench.deployment.models import (
    BUILTIN_MODELS,
    ModelRegistry,
    ModelSpec,
    get_model_spec,
    register_model,
)

__all__ = ["BUILTIN_MODELS", "ModelRegistry", "ModelSpec", "get_model_spec", "register_model"]
