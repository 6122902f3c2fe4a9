"""The recording grid and the scenarios that replay applies to a table.

The grid follows the deployment space of the issue: model x backend x precision x
batch size, with a thread count only for the backends that take one
(``pytorch_eager``, ``onnxruntime``; ``torch_compile`` has ``threads=None``).

Scenario limits are read from the single mapping
:data:`deploybench.deployment.scenarios.SCENARIOS` (re-exported here), so live runs and
replays share one source of truth.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from deploybench.deployment.scenarios import MEMORY_KEY, SCENARIOS, Scenario, get_scenario
from deploybench.profiling._types import DeployConfig

__all__ = ["SCENARIOS", "Grid", "Scenario", "get_scenario", "limit_field",
           "loosest_latency_cap_ms"]

MODELS: tuple[str, ...] = (
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "efficientnet_b0",
    "vit_ti16",
    "vit_b16",
)
BACKENDS: tuple[str, ...] = ("pytorch_eager", "torch_compile", "onnxruntime")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
THREADS: tuple[int, ...] = (1, 2)
#: Backends that take no thread count (their configs carry ``threads=None``).
THREADLESS_BACKENDS: frozenset[str] = frozenset({"torch_compile"})


@dataclasses.dataclass(frozen=True)
class Grid:
    """A rectangular subset of the deployment space (threads only where meaningful)."""

    models: tuple[str, ...] = MODELS
    backends: tuple[str, ...] = BACKENDS
    precisions: tuple[str, ...] = PRECISIONS
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    threads: tuple[int, ...] = THREADS

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            values = getattr(self, field.name)
            if len(values) == 0:
                raise ValueError(f"grid axis {field.name!r} is empty")
            if len(set(values)) != len(values):
                raise ValueError(f"grid axis {field.name!r} has duplicates: {list(values)}")
        if any(int(b) < 1 for b in self.batch_sizes):
            raise ValueError(f"batch sizes must be >= 1, got {list(self.batch_sizes)}")
        if any(int(t) < 1 for t in self.threads):
            raise ValueError(f"thread counts must be >= 1, got {list(self.threads)}")

    def configs(self) -> list[DeployConfig]:
        """Every configuration of the grid, in a stable order."""
        out: list[DeployConfig] = []
        for model, backend, precision, bs in itertools.product(
            self.models, self.backends, self.precisions, self.batch_sizes
        ):
            threads: Sequence[int | None] = (
                (None,) if backend in THREADLESS_BACKENDS else self.threads
            )
            for t in threads:
                out.append(DeployConfig(model, backend, precision, int(bs), t))
        return out

    def restrict(self, subset: Mapping[str, Sequence[Any]]) -> Grid:
        """A sub-grid keeping, per axis named in ``subset``, only the listed values.

        Axis names are the field names (``models``, ``backends``, ``precisions``,
        ``batch_sizes``, ``threads``) or the configuration field names (``model``,
        ``backend``, ``precision``, ``batch_size``). The grid's order is kept.

        Raises:
            ValueError: Unknown axis, or a value the grid does not hold.
        """
        axes = {f.name for f in dataclasses.fields(self)}
        changes: dict[str, tuple[Any, ...]] = {}
        for name, values in subset.items():
            axis = name if name in axes else f"{name}s" if f"{name}s" in axes else None
            if axis is None or isinstance(values, (str, bytes)):
                raise ValueError(
                    f"cannot restrict grid axis {name!r} to {values!r}; axes are "
                    f"{sorted(axes)}, each given a list of values")
            have = getattr(self, axis)
            wanted = {str(v) for v in values}
            unknown = sorted(wanted - {str(v) for v in have})
            if unknown:
                raise ValueError(f"grid axis {axis!r} has no value(s) {unknown}; it holds "
                                 f"{list(have)}")
            changes[axis] = tuple(v for v in have if str(v) in wanted)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grid:
        return cls(
            models=tuple(str(x) for x in d["models"]),
            backends=tuple(str(x) for x in d["backends"]),
            precisions=tuple(str(x) for x in d["precisions"]),
            batch_sizes=tuple(int(x) for x in d["batch_sizes"]),
            threads=tuple(int(x) for x in d["threads"]),
        )


#: Scenario limit name -> the ProfileResult field it caps.
LIMIT_FIELDS: dict[str, str] = {MEMORY_KEY: "peak_memory_mb"}


def limit_field(limit: str) -> str:
    """The :class:`~deploybench.profiling._types.ProfileResult` field a limit applies to."""
    return LIMIT_FIELDS.get(limit, limit)


def loosest_latency_cap_ms(scenarios: Iterable[Scenario] | None = None) -> float:
    """The largest latency cap over the scenarios (the early-abort reference when recording).

    Aborting relative to the loosest cap means an aborted configuration is infeasible
    in every scenario, so one table serves them all.
    """
    caps = [float(s.latency_cap_ms)
            for s in (SCENARIOS.values() if scenarios is None else scenarios)]
    if not caps:
        raise ValueError("no scenario given")
    return max(caps)
