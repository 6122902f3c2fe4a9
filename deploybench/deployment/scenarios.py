"""Deployment scenarios: a latency cap, a memory cap and what to maximise.

The three GPU-era scenarios keep the seed project's caps; the ``cpu_*`` variants are
scaled for a small CPU-only machine (how the caps were chosen is documented in
``docs/deploybench/measurement.md``). Every cap can be overridden with
:meth:`Scenario.with_limits`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Literal

Objective = Literal["accuracy", "throughput"]
LatencyMetric = Literal["p95", "p99"]

MEMORY_KEY = "memory_peak_mb"


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A deployment target.

    Attributes:
        name: Registry name.
        objective: ``"accuracy"`` (top-1) or ``"throughput"`` (images/s); maximised.
        latency_metric: Which latency percentile the cap applies to.
        latency_cap_ms: Cap on that percentile of the per-batch latency.
        memory_cap_mb: Cap on peak memory above the worker's baseline.
        device: ``"cpu"`` or ``"cuda"``.
        description: One line for help texts.
    """

    name: str
    objective: Objective
    latency_metric: LatencyMetric
    latency_cap_ms: float
    memory_cap_mb: float
    device: str
    description: str = ""

    def __post_init__(self) -> None:
        for field in ("latency_cap_ms", "memory_cap_mb"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be a positive finite number, got {value!r}")
        if self.objective not in ("accuracy", "throughput"):
            raise ValueError(
                f"objective must be 'accuracy' or 'throughput', got {self.objective!r}"
            )
        if self.latency_metric not in ("p95", "p99"):
            raise ValueError(f"latency_metric must be 'p95' or 'p99', got {self.latency_metric!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")

    @property
    def latency_key(self) -> str:
        """Constraint / limit name of the latency cap, e.g. ``"latency_p95_ms"``."""
        return f"latency_{self.latency_metric}_ms"

    @property
    def direction(self) -> Literal["maximize"]:
        return "maximize"

    def limits(self) -> dict[str, float]:
        """``{latency_key: cap, "memory_peak_mb": cap}``."""
        return {self.latency_key: self.latency_cap_ms, MEMORY_KEY: self.memory_cap_mb}

    def with_limits(self, limits: Mapping[str, float] | None = None, **kw: float) -> Scenario:
        """A copy with caps replaced; keys are this scenario's limit names.

        Raises:
            ValueError: for an unknown key or a non-positive / non-finite value.
        """
        merged = {**(limits or {}), **kw}
        known = self.limits()
        unknown = sorted(set(merged) - set(known))
        if unknown:
            raise ValueError(
                f"unknown limit(s) {', '.join(unknown)} for scenario {self.name!r}; "
                f"its limits are {', '.join(known)}"
            )
        lat = float(merged.get(self.latency_key, self.latency_cap_ms))
        mem = float(merged.get(MEMORY_KEY, self.memory_cap_mb))
        return dataclasses.replace(self, latency_cap_ms=lat, memory_cap_mb=mem)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("edge_tight", "accuracy", "p95", 20.0, 512.0, "cuda",
                 "GPU edge box: p95 <= 20 ms, memory <= 512 MB, maximise accuracy"),
        Scenario("server_throughput", "throughput", "p99", 100.0, 4096.0, "cuda",
                 "GPU server: p99 <= 100 ms, memory <= 4096 MB, maximise throughput"),
        Scenario("ultra_low_budget", "accuracy", "p95", 30.0, 1024.0, "cuda",
                 "GPU low budget: p95 <= 30 ms, memory <= 1024 MB, maximise accuracy"),
        Scenario("cpu_edge", "accuracy", "p95", 60.0, 300.0, "cpu",
                 "small CPU: p95 <= 60 ms, memory <= 300 MB, maximise accuracy"),
        Scenario("cpu_server", "throughput", "p99", 250.0, 1024.0, "cpu",
                 "small CPU server: p99 <= 250 ms, memory <= 1024 MB, maximise throughput"),
    )
}

DEFAULT_CPU_SCENARIO = "cpu_edge"


def get_scenario(name: str) -> Scenario:
    """Look up a scenario by name with a helpful error."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}"
        ) from None
