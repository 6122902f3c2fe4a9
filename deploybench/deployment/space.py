"""The define-by-run deployment search space.

Parameters (Optuna names): ``model``, ``backend``, ``precision``, ``batch_size`` and,
only for configurations whose CPU thread count matters, ``threads``: eager PyTorch and
ONNX Runtime on the CPU, and on CUDA only their ``int8`` configurations, which run on the
CPU (:func:`deploybench.profiling.uses_threads`). ``torch_compile`` runs with PyTorch's
default intra-op thread count (recorded in each result) because inductor fixes its OpenMP
parallelism when it compiles; a per-trial thread knob there would silently mean something
else.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import optuna

from deploybench.deployment.models import ModelRegistry, get_model_spec
from deploybench.profiling._types import DeployConfig
from deploybench.profiling.runner import BACKENDS, PRECISIONS, uses_threads

BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)


def default_threads(cpu_count: int | None = None) -> tuple[int, ...]:
    """Powers of two from 1 up to the number of CPUs (at least ``(1,)``)."""
    n = max(1, cpu_count if cpu_count is not None else (os.cpu_count() or 1))
    out, t = [], 1
    while t <= n:
        out.append(t)
        t *= 2
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class DeploymentSpace:
    """Choices for each dimension; validated on construction."""

    models: tuple[str, ...]
    backends: tuple[str, ...] = BACKENDS
    precisions: tuple[str, ...] = PRECISIONS
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    threads: tuple[int, ...] = dataclasses.field(default_factory=default_threads)

    @classmethod
    def create(
        cls,
        models: Sequence[str] | None = None,
        backends: Sequence[str] | None = None,
        precisions: Sequence[str] | None = None,
        batch_sizes: Sequence[int] | None = None,
        threads: Sequence[int] | None = None,
        registry: ModelRegistry | None = None,
    ) -> DeploymentSpace:
        """Build a space, defaulting every dimension and validating every value."""
        from deploybench.deployment.models import DEFAULT_REGISTRY

        reg = registry or DEFAULT_REGISTRY
        space = cls(
            models=tuple(models) if models is not None else reg.names(),
            backends=tuple(backends) if backends is not None else BACKENDS,
            precisions=tuple(precisions) if precisions is not None else PRECISIONS,
            batch_sizes=BATCH_SIZES if batch_sizes is None else tuple(int(b) for b in batch_sizes),
            threads=default_threads() if threads is None else tuple(int(t) for t in threads),
        )
        for m in space.models:
            get_model_spec(m, reg)  # raises KeyError naming the known models
        return space

    def __post_init__(self) -> None:
        for name, allowed in (("backends", BACKENDS), ("precisions", PRECISIONS)):
            values = getattr(self, name)
            bad = [v for v in values if v not in allowed]
            if bad or not values:
                raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {values}")
        if not self.models:
            raise ValueError("models must not be empty")
        for name in ("batch_sizes", "threads"):
            values = getattr(self, name)
            if not values or any(int(v) < 1 for v in values):
                raise ValueError(f"{name} must be non-empty positive integers, got {values}")
        for name in ("models", "backends", "precisions", "batch_sizes", "threads"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has duplicates: {values}")

    def size(self, device: str = "cpu") -> int:
        """Number of distinct configurations on ``device`` (``"cpu"`` or ``"cuda"``)."""
        per_model_batch = sum(
            len(self.threads) if uses_threads(b, p, device) else 1
            for b in self.backends
            for p in self.precisions
        )
        return len(self.models) * len(self.batch_sizes) * per_model_batch

    def suggest(self, trial: optuna.trial.BaseTrial, device: str = "cpu") -> DeployConfig:
        """Sample one configuration for ``device`` (``threads`` only where it matters)."""
        model = str(trial.suggest_categorical("model", list(self.models)))
        backend = str(trial.suggest_categorical("backend", list(self.backends)))
        precision = str(trial.suggest_categorical("precision", list(self.precisions)))
        batch = int(trial.suggest_categorical("batch_size", list(self.batch_sizes)))
        threads = None
        if uses_threads(backend, precision, device):
            threads = int(trial.suggest_categorical("threads", list(self.threads)))
        return DeployConfig(model, backend, precision, batch, threads)
