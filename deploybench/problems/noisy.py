"""A synthetic problem whose constraint is *measured with noise*.

It mimics a deployment search where accuracy grows with the model while latency is a
noisy measurement: configurations close to the latency cap are feasible on some
evaluations and infeasible on others, exactly like the CPU configurations of a real
boundary probe. Everything the harness needs to score a recommendation is known in
closed form:

* ``truth(params)``: the noise-free objective (the objective itself is deterministic
  unless ``objective_noise > 0``).
* ``feasibility_probability(params)``: ``P(one evaluation is feasible)``
  ``= Phi((1 - r(params)) / noise)`` where ``r`` is the mean latency relative to the cap.
* ``oracle()``: the best noise-free objective over configurations whose feasibility
  probability is at least ``oracle_confidence`` (0.9 by default).

Space (discrete, 16 x 16 = 256 configurations):

* ``width`` integer in ``[0, 15]``
* ``depth`` integer in ``[0, 15]``

Objective (minimise an error-like value)::

    f = 10 - 0.5 * width - 0.3 * depth + 0.03 * (width - depth) ** 2

Constraint ``latency`` (relative violation, ``<= 0`` is feasible)::

    r = 0.4 + 0.045 * width + 0.03 * depth
    latency = r - 1 + noise * z,  z ~ N(0, 1) drawn per evaluation

The noise of each evaluation is drawn from a generator seeded by ``(seed, trial.number)``
so a study is reproducible and the problem holds no hidden global state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import optuna
from scipy.stats import norm

from deploybench._constraints import report_constraints
from deploybench.problems._base import Problem

WIDTH_RANGE = (0, 15)
DEPTH_RANGE = (0, 15)


class NoisyBoundaryProblem(Problem):
    """Discrete problem with a noisy latency constraint (near-boundary configs flip).

    Args:
        noise: Standard deviation of the per-evaluation constraint noise, in units of
            the cap (0.08 means an 8 % latency jitter). Must be > 0.
        objective_noise: Standard deviation of additive noise on the returned objective
            (default 0: the objective is exact and only feasibility is stochastic).
        oracle_confidence: Feasibility probability a configuration needs to count for
            :meth:`oracle`.
        seed: Seeds the per-evaluation noise together with ``trial.number``.
    """

    name = "noisy_boundary"
    direction = "minimize"
    constraint_keys = ("latency",)
    discrete = True

    def __init__(
        self,
        noise: float = 0.08,
        *,
        objective_noise: float = 0.0,
        oracle_confidence: float = 0.9,
        seed: int = 0,
    ) -> None:
        if not np.isfinite(noise) or noise <= 0:
            raise ValueError(f"noise must be a positive finite number, got {noise!r}")
        if not np.isfinite(objective_noise) or objective_noise < 0:
            raise ValueError(f"objective_noise must be >= 0, got {objective_noise!r}")
        if not 0.0 < oracle_confidence < 1.0:
            raise ValueError(f"oracle_confidence must be in (0, 1), got {oracle_confidence!r}")
        self.noise = float(noise)
        self.objective_noise = float(objective_noise)
        self.oracle_confidence = float(oracle_confidence)
        self.seed = int(seed)

    # -- closed-form model ---------------------------------------------------------
    @staticmethod
    def _unpack(params: Mapping[str, Any]) -> tuple[int, int]:
        try:
            width, depth = int(params["width"]), int(params["depth"])
        except KeyError as exc:
            raise ValueError(f"params must contain 'width' and 'depth', missing {exc}") from None
        if not (WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]):
            raise ValueError(f"width must be in {WIDTH_RANGE}, got {width}")
        if not (DEPTH_RANGE[0] <= depth <= DEPTH_RANGE[1]):
            raise ValueError(f"depth must be in {DEPTH_RANGE}, got {depth}")
        return width, depth

    @staticmethod
    def objective(width: int, depth: int) -> float:
        """Noise-free objective of ``(width, depth)``."""
        return 10.0 - 0.5 * width - 0.3 * depth + 0.03 * (width - depth) ** 2

    @staticmethod
    def latency_ratio(width: int, depth: int) -> float:
        """Mean latency relative to the cap (``< 1`` is feasible on average)."""
        return 0.4 + 0.045 * width + 0.03 * depth

    def truth(self, params: Mapping[str, Any]) -> float:
        """Noise-free objective of a configuration (this problem never crashes)."""
        return self.objective(*self._unpack(params))

    def feasibility_probability(self, params: Mapping[str, Any]) -> float:
        """Exact probability that one evaluation of ``params`` is feasible."""
        ratio = self.latency_ratio(*self._unpack(params))
        return float(norm.cdf((1.0 - ratio) / self.noise))

    def configurations(self) -> Iterator[dict[str, int]]:
        """Every configuration of the (finite) space."""
        widths = range(WIDTH_RANGE[0], WIDTH_RANGE[1] + 1)
        depths = range(DEPTH_RANGE[0], DEPTH_RANGE[1] + 1)
        for width, depth in itertools.product(widths, depths):
            yield {"width": width, "depth": depth}

    def oracle_params(self) -> dict[str, int]:
        """The configuration that attains :meth:`oracle`."""
        eligible = [
            p
            for p in self.configurations()
            if self.feasibility_probability(p) >= self.oracle_confidence
        ]
        return min(eligible, key=lambda p: (self.truth(p), p["width"], p["depth"]))

    def oracle(self) -> float:
        """Best noise-free objective with feasibility probability >= ``oracle_confidence``."""
        return self.truth(self.oracle_params())

    # -- the Optuna objective ------------------------------------------------------
    def __call__(self, trial: optuna.Trial) -> float:
        width = trial.suggest_int("width", *WIDTH_RANGE)
        depth = trial.suggest_int("depth", *DEPTH_RANGE)
        rng = np.random.default_rng([self.seed, trial.number])
        z_constraint, z_objective = rng.standard_normal(2)
        ratio = self.latency_ratio(width, depth)
        trial.set_user_attr("latency_ratio_measured", float(ratio + self.noise * z_constraint))
        report_constraints(trial, {"latency": ratio - 1.0 + self.noise * float(z_constraint)})
        value = self.objective(width, depth)
        if self.objective_noise > 0:
            value += self.objective_noise * float(z_objective)
        return float(value)
