"""Hierarchical Rosenbrock: a conditional (define-by-run) space with seeded Gaussian noise.

``mode`` in {simple, extended, full} activates ``x1, x2`` / ``+ x3, x4`` / ``+ x5``, each in
[-5, 5]; ``n_iters`` integer in [1, 20] is the number of averaged repeats of a noisy
measurement. Maximise ``-rosenbrock(active xs)``; the observation adds Gaussian noise with
standard deviation ``noise_scale / sqrt(n_iters)`` drawn from a generator seeded by
``(problem seed, trial number)``, so runs are reproducible. ``truth`` is the noise-free value.
Crash if ``mode == full and x1 > 3 and x5 > 3``. Constraint ``sum(xs) <= 5`` reported as
``(sum(xs) - 5) / 5``. The noise-free optimum is 0 at all ones (computed by SLSQP).
``f_ref`` for regret is the 95th percentile (best 5%) of feasible values under uniform
sampling, not the median.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

MODES: dict[str, int] = {"simple": 2, "extended": 4, "full": 5}


class HierRosenbrock(SyntheticProblem):
    """Hierarchical Rosenbrock (maximise, optimum 0).

    Args:
        seed: Noise seed (combined with the trial number).
        noise_scale: Standard deviation of the noise at ``n_iters == 1`` (>= 0).
    """

    name = "hier_rosenbrock"
    direction = "maximize"
    constraint_keys = ("sum_cap",)
    discrete = False
    noisy = True
    # The median feasible value under uniform sampling is about -2.4e4, which would make
    # every sampler's regret ~0; the best 5% of uniform draws is a more telling reference.
    reference_quantile = 0.95

    def __init__(self, seed: int = 0, noise_scale: float = 5.0) -> None:
        super().__init__(seed)
        if not math.isfinite(noise_scale) or noise_scale < 0:
            raise ValueError(f"noise_scale must be a finite number >= 0, got {noise_scale!r}")
        self.noise_scale = float(noise_scale)

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        mode = space.categorical("mode", list(MODES))
        xs = [space.float(f"x{i + 1}", -5.0, 5.0) for i in range(MODES[mode])]
        n_iters = space.int("n_iters", 1, 20)
        if mode == "full" and xs[0] > 3.0 and xs[4] > 3.0:
            return crash("full mode with x1 > 3 and x5 > 3")
        value = -float(optimize.rosen(np.asarray(xs)))
        if noise is not None and self.noise_scale > 0:
            value += float(noise.normal(0.0, self.noise_scale / math.sqrt(n_iters)))
        return Outcome(value, {"sum_cap": (sum(xs) - 5.0) / 5.0})

    def _compute_oracle(self) -> float:
        """SLSQP from 20 seeded starts per mode (and per crash-free box for ``full``)."""
        rng = np.random.default_rng(0)
        best = -math.inf
        for mode, dim in MODES.items():
            boxes = [[(-5.0, 5.0)] * dim]
            if mode == "full":  # crash-free set = {x1 <= 3} U {x5 <= 3}
                boxes = [[(-5.0, 3.0)] + [(-5.0, 5.0)] * 4, [(-5.0, 5.0)] * 4 + [(-5.0, 3.0)]]
            for bounds in boxes:
                lo = np.array([b[0] for b in bounds])
                hi = np.array([b[1] for b in bounds])
                for start in [np.zeros(dim), *rng.uniform(lo, hi, size=(20, dim))]:
                    res = optimize.minimize(
                        optimize.rosen,
                        start,
                        jac=optimize.rosen_der,
                        method="SLSQP",
                        bounds=bounds,
                        constraints=[{"type": "ineq", "fun": lambda x: 5.0 - float(np.sum(x))}],
                        options={"maxiter": 500, "ftol": 1e-12},
                    )
                    if res.success and float(np.sum(res.x)) <= 5.0 + 1e-9:
                        best = max(best, -float(res.fun))
        return best
