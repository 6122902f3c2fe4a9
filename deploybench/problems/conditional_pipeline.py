"""Conditional pipeline: a categorical picks a branch with its own sub-parameters.

``branch`` in {linear, forest, mlp} (maximise a validation-score-like value):

* ``linear``: ``C`` log-float [1e-4, 1e2], ``penalty`` in {l1, l2}.
  Value ``0.78 - 0.02 (log10 C)^2 + 0.01 [l2]``. Crash (solver failure) when
  ``penalty == l1 and C < 1e-3``. Always meets the latency cap.
* ``forest``: ``n_estimators`` log-int [10, 2000], ``max_depth`` int [2, 30].
  Value ``0.86 - 0.03 (log10 n - 2.7)^2 - 0.0005 (depth - 14)^2``. Crash (out of memory)
  when ``max_depth > 20 and n_estimators > 800``. Latency ``n * depth / 8000 - 1 <= 0``.
* ``mlp``: ``n_layers`` int [1, 3]; for each layer ``i`` a ``units_i`` log-int [16, 512]
  (nested conditional parameters); ``lr`` log-float [1e-5, 1e-1].
  Value ``0.84 + 0.03 n_layers - 0.04 (log10 lr + 2.5)^2 - 0.01 sum_i (log2 units_i - 7)^2``.
  Crash (divergence) when ``lr > 0.02``; crash (out of memory) when ``n_layers == 3`` and
  ``units_0 > 384``. Latency ``sum_i units_i / 300 - 1 <= 0``.

The oracle is exact per branch: a bounded scalar optimisation for the continuous ``C`` /
``lr`` (their crash regions are intervals), exhaustive enumeration of the integer parameters
(forest, and mlp layer widths via a sorted prefix maximum under the sum cap).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

BRANCHES = ("linear", "forest", "mlp")
UNITS_CAP = 300.0


def _units_penalty(units: np.ndarray | int) -> np.ndarray:
    return np.asarray(0.01 * (np.log2(np.asarray(units, dtype=float)) - 7.0) ** 2)


class ConditionalPipeline(SyntheticProblem):
    """Conditional pipeline (maximise; mixed, conditional space)."""

    name = "conditional_pipeline"
    direction = "maximize"
    constraint_keys = ("latency",)
    discrete = False

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        branch = space.categorical("branch", list(BRANCHES))
        if branch == "linear":
            c = space.float("C", 1e-4, 1e2, log=True)
            penalty = space.categorical("penalty", ["l1", "l2"])
            if penalty == "l1" and c < 1e-3:
                return crash("l1 solver failed to converge (C < 1e-3)")
            value = 0.78 - 0.02 * math.log10(c) ** 2 + (0.01 if penalty == "l2" else 0.0)
            return Outcome(value, {"latency": -0.5})
        if branch == "forest":
            n = space.int("n_estimators", 10, 2000, log=True)
            depth = space.int("max_depth", 2, 30)
            if depth > 20 and n > 800:
                return crash("forest out of memory (max_depth > 20, n_estimators > 800)")
            value = 0.86 - 0.03 * (math.log10(n) - 2.7) ** 2 - 0.0005 * (depth - 14) ** 2
            return Outcome(value, {"latency": n * depth / 8000.0 - 1.0})
        n_layers = space.int("n_layers", 1, 3)
        units = [space.int(f"units_{i}", 16, 512, log=True) for i in range(n_layers)]
        lr = space.float("lr", 1e-5, 1e-1, log=True)
        if lr > 0.02:
            return crash("training diverged (lr > 0.02)")
        if n_layers == 3 and units[0] > 384:
            return crash("mlp out of memory (3 layers, units_0 > 384)")
        value = (
            0.84
            + 0.03 * n_layers
            - 0.04 * (math.log10(lr) + 2.5) ** 2
            - float(np.sum(_units_penalty(np.asarray(units))))
        )
        return Outcome(value, {"latency": sum(units) / UNITS_CAP - 1.0})

    def _compute_oracle(self) -> float:
        # linear: best C in the crash-free interval of each penalty.
        best = -math.inf
        for penalty, lo in (("l1", math.log10(1e-3)), ("l2", -4.0)):
            res = optimize.minimize_scalar(
                lambda t: 0.02 * t**2, bounds=(lo, 2.0), method="bounded"
            )
            best = max(best, 0.78 - float(res.fun) + (0.01 if penalty == "l2" else 0.0))
        # forest: exhaustive enumeration.
        n = np.arange(10, 2001)[:, None]
        depth = np.arange(2, 31)[None, :]
        ok = ~((depth > 20) & (n > 800)) & (n * depth <= 8000)
        forest = 0.86 - 0.03 * (np.log10(n) - 2.7) ** 2 - 0.0005 * (depth - 14) ** 2
        best = max(best, float(np.max(np.where(ok, forest, -np.inf))))
        # mlp: lr by bounded scalar optimisation, widths by enumeration under the sum cap.
        res = optimize.minimize_scalar(
            lambda t: 0.04 * (t + 2.5) ** 2, bounds=(-5.0, math.log10(0.02)), method="bounded"
        )
        lr_term = -float(res.fun)
        units = np.arange(16, 513)
        pen = _units_penalty(units)
        for n_layers in (1, 2, 3):
            first_ok = units <= 384 if n_layers == 3 else np.ones_like(units, dtype=bool)
            if n_layers == 1:
                widths = float(np.max(np.where(first_ok & (units <= UNITS_CAP), -pen, -np.inf)))
            else:
                # best total penalty for the remaining layers given their summed width
                rest_sum = units.copy()
                rest_val = -pen
                for _ in range(n_layers - 2):
                    rest_sum = (rest_sum[:, None] + units[None, :]).ravel()
                    rest_val = (rest_val[:, None] - pen[None, :]).ravel()
                order = np.argsort(rest_sum)
                sums = rest_sum[order]
                prefix = np.maximum.accumulate(rest_val[order])
                widths = -math.inf
                for u0, p0, ok0 in zip(units, pen, first_ok):
                    k = int(np.searchsorted(sums, UNITS_CAP - u0, side="right"))
                    if ok0 and k > 0:
                        widths = max(widths, float(prefix[k - 1]) - float(p0))
            best = max(best, 0.84 + 0.03 * n_layers + lr_term + widths)
        return best
