"""Shared machinery for the analytic (synthetic) crash benchmarks.

A :class:`SyntheticProblem` defines its space and its objective in one method,
:meth:`SyntheticProblem.evaluate`, written against a :class:`~._space.SpaceSampler`. The
same code therefore serves Optuna trials, noise-free re-evaluation (``truth``), and fast
Monte-Carlo statistics under uniform (``RandomSampler``-like) sampling.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna

from deploybench._constraints import report_constraints
from deploybench.problems._base import Problem, ProblemCrash
from deploybench.problems._space import ReplaySpace, SpaceSampler, TrialSpace, UniformSpace

#: Monte-Carlo sample size and seed behind :meth:`SyntheticProblem.reference_value`.
REFERENCE_SAMPLES = 20_000
REFERENCE_SEED = 20_240_409


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Result of one evaluation.

    Attributes:
        value: Objective value, or None when the configuration crashed.
        constraints: Constraint name to normalised violation (``<= 0`` is feasible).
        crash_reason: Why it crashed (None when it did not).
    """

    value: float | None
    constraints: Mapping[str, float]
    crash_reason: str | None = None

    @property
    def crashed(self) -> bool:
        return self.value is None

    @property
    def feasible(self) -> bool:
        return not self.crashed and all(v <= 0.0 for v in self.constraints.values())


def crash(reason: str) -> Outcome:
    """An :class:`Outcome` for a crashing configuration."""
    return Outcome(value=None, constraints={}, crash_reason=reason)


@dataclasses.dataclass(frozen=True)
class UniformStats:
    """Fractions of outcomes under uniform sampling (Monte-Carlo).

    ``infeasible_fraction`` counts configurations that run but violate a constraint, as a
    fraction of all samples (crashes are not counted twice).
    """

    n: int
    crash_fraction: float
    infeasible_fraction: float
    median_feasible: float | None
    best_feasible: float | None
    feasible_values: tuple[float, ...] = dataclasses.field(repr=False, default=())

    @property
    def waste_fraction(self) -> float:
        return self.crash_fraction + self.infeasible_fraction


class SyntheticProblem(Problem):
    """A :class:`Problem` whose space and objective are analytic.

    Args:
        seed: Seeds the observation noise (together with the trial number), so that a run
            is reproducible; ignored by noise-free problems.
    """

    noisy: bool = False
    #: Which feasible quantile under uniform sampling is ``f_ref`` (0.5 = median; higher
    #: values mean a better-than-median reference, on the side of ``direction``).
    reference_quantile: float = 0.5

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._oracle: float | None = None
        self._uniform: dict[tuple[int, int], UniformStats] = {}

    @abc.abstractmethod
    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        """Ask ``space`` for the parameters and evaluate them.

        Args:
            space: Where the parameters come from (trial, uniform draw or replay).
            noise: Generator for observation noise; None means noise-free (truth).
        """

    @abc.abstractmethod
    def _compute_oracle(self) -> float:
        """Best feasible noise-free value, computed (enumeration, grid or scipy)."""

    def __call__(self, trial: optuna.Trial) -> float:
        noise = np.random.default_rng([self.seed, trial.number]) if self.noisy else None
        outcome = self.evaluate(TrialSpace(trial), noise)
        if outcome.value is None:
            trial.set_user_attr("crash_reason", outcome.crash_reason)
            raise ProblemCrash(outcome.crash_reason or "crash")
        report_constraints(trial, outcome.constraints)
        return outcome.value

    def oracle(self) -> float:
        if self._oracle is None:
            self._oracle = float(self._compute_oracle())
        return self._oracle

    def outcome(self, params: Mapping[str, Any]) -> Outcome:
        """Noise-free outcome of a finished configuration."""
        return self.evaluate(ReplaySpace(dict(params)), None)

    def truth(self, params: Mapping[str, Any]) -> float | None:
        return self.outcome(params).value

    def feasibility_probability(self, params: Mapping[str, Any]) -> float | None:
        # Crashes and constraints are deterministic here (noise only affects the value).
        return 1.0 if self.outcome(params).feasible else 0.0

    def sample_uniform(self, rng: np.random.Generator) -> tuple[dict[str, Any], Outcome]:
        """Draw one configuration like ``RandomSampler`` and return its noise-free outcome."""
        space = UniformSpace(rng)
        outcome = self.evaluate(space, None)
        return space.params, outcome

    def uniform_stats(self, n: int = REFERENCE_SAMPLES, seed: int = REFERENCE_SEED) -> UniformStats:
        """Monte-Carlo crash / infeasible fractions under uniform sampling (cached)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        key = (n, seed)
        if key not in self._uniform:
            rng = np.random.default_rng(seed)
            n_crash = 0
            n_infeasible = 0
            feasible: list[float] = []
            for _ in range(n):
                _, out = self.sample_uniform(rng)
                if out.value is None:
                    n_crash += 1
                elif out.feasible:
                    feasible.append(out.value)
                else:
                    n_infeasible += 1
            best: float | None = None
            if feasible:
                best = max(feasible) if self.direction == "maximize" else min(feasible)
            self._uniform[key] = UniformStats(
                n=n,
                crash_fraction=n_crash / n,
                infeasible_fraction=n_infeasible / n,
                median_feasible=float(np.median(feasible)) if feasible else None,
                best_feasible=best,
                feasible_values=tuple(feasible),
            )
        return self._uniform[key]

    def reference_value(self) -> float:
        """``f_ref`` for normalised regret: a quantile (:attr:`reference_quantile`, the median
        by default) of the feasible noise-free values under uniform sampling
        (:data:`REFERENCE_SAMPLES` draws, seed :data:`REFERENCE_SEED`)."""
        values = self.uniform_stats().feasible_values
        if not values:
            raise RuntimeError(f"{self.name}: no feasible configuration in the uniform sample")
        q = (
            self.reference_quantile
            if self.direction == "maximize"
            else 1.0 - self.reference_quantile
        )
        return float(np.quantile(np.asarray(values), q))
