"""Crashy Branin: a mixed space with two crash regions and two linear constraints.

Definition (as in the seed system): ``mode`` in {A, B, C} shifts ``x1`` by 0 / +2 / -2;
``x1, x2`` in [0, 15]; ``resolution`` integer in [1, 10]. The run crashes when
``(mode == C and x1 > 8) or (resolution > 7 and x2 > 12)``. Maximise
``-(branin(x1 + shift, x2) + 0.1 * resolution)`` subject to ``x1 + x2 - 16 <= 0`` and
``-x1 + 2 x2 - 10 <= 0`` (on the unshifted ``x1``).

The constraints are reported normalised, divided by their constant term:
``(x1 + x2 - 16) / 16`` and ``(-x1 + 2 x2 - 10) / 10`` (same sign, so the same feasible set).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

SHIFTS: dict[str, float] = {"A": 0.0, "B": 2.0, "C": -2.0}


def branin(x1: np.ndarray | float, x2: np.ndarray | float) -> np.ndarray | float:
    """The standard Branin-Hoo function (global minimum 0.397887)."""
    b = 5.1 / (4.0 * math.pi**2)
    c = 5.0 / math.pi
    t = 1.0 / (8.0 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x1) + 10.0


class CrashyBranin(SyntheticProblem):
    """Crashy Branin (maximise, optimum about -0.4979)."""

    name = "crashy_branin"
    direction = "maximize"
    constraint_keys = ("sum_cap", "slope_cap")
    discrete = False

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        mode = space.categorical("mode", list(SHIFTS))
        x1 = space.float("x1", 0.0, 15.0)
        x2 = space.float("x2", 0.0, 15.0)
        resolution = space.int("resolution", 1, 10)
        if mode == "C" and x1 > 8.0:
            return crash("mode C with x1 > 8")
        if resolution > 7 and x2 > 12.0:
            return crash("resolution > 7 with x2 > 12")
        value = -(float(branin(x1 + SHIFTS[mode], x2)) + 0.1 * resolution)
        constraints = {
            "sum_cap": (x1 + x2 - 16.0) / 16.0,
            "slope_cap": (-x1 + 2.0 * x2 - 10.0) / 10.0,
        }
        return Outcome(value, constraints)

    def _compute_oracle(self) -> float:
        """Dense 601x601 grid per (mode, resolution), then SLSQP polish of the best cell."""
        grid = np.linspace(0.0, 15.0, 601)
        g1, g2 = np.meshgrid(grid, grid, indexing="ij")
        best = -math.inf
        for mode, shift in SHIFTS.items():
            for resolution in range(1, 11):
                hi1 = 8.0 if mode == "C" else 15.0
                hi2 = 12.0 if resolution > 7 else 15.0
                ok = (g1 <= hi1) & (g2 <= hi2) & (g1 + g2 <= 16.0) & (-g1 + 2.0 * g2 <= 10.0)
                values = np.where(ok, -(branin(g1 + shift, g2) + 0.1 * resolution), -np.inf)
                idx = np.unravel_index(int(np.argmax(values)), values.shape)
                start = np.array([g1[idx], g2[idx]])

                def neg(x: np.ndarray, shift: float = shift, res: int = resolution) -> float:
                    return float(branin(x[0] + shift, x[1])) + 0.1 * res

                res = optimize.minimize(
                    neg,
                    start,
                    method="SLSQP",
                    bounds=[(0.0, hi1), (0.0, hi2)],
                    constraints=[
                        {"type": "ineq", "fun": lambda x: 16.0 - x[0] - x[1]},
                        {"type": "ineq", "fun": lambda x: 10.0 + x[0] - 2.0 * x[1]},
                    ],
                )
                candidate = float(values[idx])
                if res.success:
                    candidate = max(candidate, -float(res.fun))
                best = max(best, candidate)
        return best
