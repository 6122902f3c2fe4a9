"""``DeploymentObjective``: an Optuna objective that measures real deployments.

Each call suggests a configuration, measures it with
:func:`deploybench.profiling.profile` (fresh worker process), then:

* ``ok``: reports the latency and memory constraints as relative violations
  (``measured / cap - 1``; ``<= 0`` is feasible) and returns the objective value;
* ``aborted`` (warm-up median above ``abort_factor x cap``): completes the trial with the
  objective value; the latency violation is computed from the warm-up median, so the
  trial is infeasible but tells the sampler *how far* off it was; user attr
  ``aborted_early`` is True;
* ``crash``: stores the crash kind and message as user attrs and raises
  :class:`DeploymentCrash` (the trial becomes FAIL), or ``optuna.TrialPruned`` when
  ``prune_crashes`` is set (the documented TPE work-around, sampler ``tpe_prune``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal

import optuna

from deploybench._constraints import report_constraints
from deploybench.deployment.scenarios import MEMORY_KEY, Scenario, get_scenario
from deploybench.deployment.space import DeploymentSpace
from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings

ProfileFn = Callable[[DeployConfig, ProfileSettings], ProfileResult]

#: Result fields copied to trial user attrs (with the config's fields and the caps).
_ATTR_FIELDS = (
    "status", "crash_kind", "crash_message", "latency_p50_ms", "latency_p95_ms",
    "latency_p99_ms", "latency_mean_ms", "throughput_ips", "peak_memory_mb", "memory_method",
    "device_executed", "threads_intra", "threads_inter", "accuracy", "accuracy_source",
    "accuracy_note", "quantized", "aborted_early", "abort_threshold_ms", "warmup_latency_ms",
    "passes_timed", "wall_s",
)


class DeploymentCrash(RuntimeError):
    """The configuration crashed; the message starts with the crash kind, e.g. ``oom: ...``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def _default_profile(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
    from deploybench.profiling import profile

    return profile(config, settings)


class DeploymentObjective:
    """Callable objective for any Optuna study and sampler (direction: maximize).

    Args:
        scenario: A :class:`Scenario` or its name.
        space: The search space (default: every registered model, backend, precision,
            batch sizes 1..32, threads powers of two up to the CPU count).
        settings: Measurement settings; ``device`` and ``latency_cap_ms`` are taken from
            the scenario (the cap drives the early-abort rule).
        limits: Cap overrides, e.g. ``{"latency_p95_ms": 40, "memory_peak_mb": 256}``.
        profile_fn: Measurement function (tests inject a fake).
        prune_crashes: Raise ``optuna.TrialPruned`` instead of failing on a crash.
    """

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        space: DeploymentSpace | None = None,
        settings: ProfileSettings | None = None,
        limits: dict[str, float] | None = None,
        profile_fn: ProfileFn | None = None,
        prune_crashes: bool = False,
    ) -> None:
        base = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.scenario = base.with_limits(limits)
        self.space = space or DeploymentSpace.create()
        settings = settings or ProfileSettings()
        self.settings = dataclasses.replace(
            settings, device=self.scenario.device, latency_cap_ms=self.scenario.latency_cap_ms
        )
        self.profile_fn: ProfileFn = profile_fn or _default_profile
        self.prune_crashes = bool(prune_crashes)

    @property
    def direction(self) -> Literal["maximize"]:
        return self.scenario.direction

    @property
    def constraint_keys(self) -> tuple[str, str]:
        return (self.scenario.latency_key, MEMORY_KEY)

    def _latency(self, result: ProfileResult) -> float | None:
        if result.status == "aborted":
            return result.warmup_latency_ms
        value: float | None = getattr(result, self.scenario.latency_key)
        return value

    def objective_value(self, result: ProfileResult) -> float | None:
        """Accuracy, or throughput (from the warm-up median when aborted)."""
        if self.scenario.objective == "accuracy":
            return result.accuracy
        if result.status == "aborted":
            lat = result.warmup_latency_ms
            return None if not lat else result.config.batch_size * 1000.0 / lat
        return result.throughput_ips

    def violations(self, result: ProfileResult) -> dict[str, float]:
        """Relative violations ``measured / cap - 1`` for latency and memory."""
        lat = self._latency(result)
        mem = result.peak_memory_mb
        if lat is None or mem is None:
            raise ValueError(f"result for {result.config.key()} lacks latency or memory")
        return {
            self.scenario.latency_key: lat / self.scenario.latency_cap_ms - 1.0,
            MEMORY_KEY: mem / self.scenario.memory_cap_mb - 1.0,
        }

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.space.suggest(trial, self.settings.device)
        result = self.profile_fn(config, self.settings)
        for name in _ATTR_FIELDS:
            value = getattr(result, name)
            if value is not None:
                trial.set_user_attr(name, value)
        trial.set_user_attr("config_key", config.key())
        trial.set_user_attr("scenario", self.scenario.name)
        trial.set_user_attr("limits", self.scenario.limits())
        trial.set_user_attr("device_requested", self.settings.device)
        if result.status == "crash":
            kind = result.crash_kind or "error"
            message = result.crash_message or "no message"
            trial.set_user_attr("feasible", False)
            if self.prune_crashes:
                raise optuna.TrialPruned(f"{kind}: {message}")
            raise DeploymentCrash(kind, message)
        value = self.objective_value(result)
        if value is None or not math.isfinite(value):
            trial.set_user_attr("feasible", False)
            raise DeploymentCrash("error", f"no objective value for {config.key()}")
        viol = self.violations(result)
        report_constraints(trial, viol)
        feasible = result.status == "ok" and all(v <= 0.0 for v in viol.values())
        trial.set_user_attr("feasible", feasible)
        trial.set_user_attr("objective", self.scenario.objective)
        return float(value)

    def describe(self) -> dict[str, Any]:
        """Scenario, caps and measurement settings (stored on the study)."""
        return {
            "scenario": self.scenario.name,
            "objective": self.scenario.objective,
            "limits": self.scenario.limits(),
            "device": self.settings.device,
            "warmup": self.settings.warmup,
            "passes": self.settings.passes,
            "abort_factor": self.settings.abort_factor,
            "space": dataclasses.asdict(self.space),
        }
