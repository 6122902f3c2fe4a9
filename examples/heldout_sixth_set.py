"""Sixth held-out set (tenth session) for ``examples/heldout_problems.py``.

Four problems with 12–15 numerical parameters, written to check one rule for
high-dimensional spaces before the rule was run on them (see the results page): two where
failures are rare and two where they are common. See the docstring of
``heldout_problems.py`` for how they are scored.

* ``sphere15`` — 15 floats in ``[-3, 3]``, a shifted sphere (minimise); it crashes when
  ``x0 > 2.5`` (about 8 % of the box, away from the optimum). No constraints.
* ``hp_wide12`` — a hyper-parameter search with twelve parameters and no categorical
  (minimise a loss surrogate): four log-scale rates, four log-scale integer sizes and four
  fractions, with pairwise interactions; training diverges (crash) when the first rate is
  above 0.3 with a small first size. No constraints.
* ``band12`` — 12 floats in ``[0, 1]`` (minimise the distance to a target); it runs only
  while ``|x0 - x1| < 0.3`` (about half of the box crashes), and the target lies inside
  that band.
* ``cat_hd14`` — a deployment-like pick with two categoricals (backend, precision) and
  twelve floats (maximise a score); three of the nine backend × precision pairs are
  unsupported (crash), the first three floats crash when their sum passes 2, and a
  constraint caps the mean of the last six.

Under uniform sampling (3000 ``RandomSampler`` draws, seed 1) the shares of crashed /
infeasible / feasible trials are: sphere15 0.09 / 0 / 0.91, hp_wide12 0.04 / 0 / 0.96,
band12 0.49 / 0 / 0.51, cat_hd14 0.44 / 0.09 / 0.47.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import numpy as np
import optuna

Crash = third_set.Crash

_SP_TARGET = np.random.default_rng(61).uniform(-2.0, 2.0, size=15)


def sphere15(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -3.0, 3.0) for i in range(15)])
    if x[0] > 2.5:
        raise Crash("numerical blow-up")
    return float(np.sum((x - _SP_TARGET) ** 2))


_HP_RATE = np.random.default_rng(62).uniform(-4.0, -1.0, size=4)
_HP_SIZE = np.random.default_rng(63).uniform(2.0, 5.0, size=4)
_HP_FRAC = np.random.default_rng(64).uniform(0.1, 0.9, size=4)


def hp_wide12(trial: optuna.Trial) -> float:
    rates = np.log10([trial.suggest_float(f"rate{i}", 1e-5, 1.0, log=True) for i in range(4)])
    sizes = np.log2([trial.suggest_int(f"size{i}", 1, 64, log=True) for i in range(4)])
    fracs = np.array([trial.suggest_float(f"frac{i}", 0.0, 1.0) for i in range(4)])
    if rates[0] > math.log10(0.3) and sizes[0] < 2.0:
        raise Crash("training diverged")
    loss = 0.1 * float(np.sum((rates - _HP_RATE) ** 2))
    loss += 0.05 * float(np.sum((sizes - _HP_SIZE) ** 2))
    loss += float(np.sum((fracs - _HP_FRAC) ** 2))
    loss += 0.05 * float((rates[1] - _HP_RATE[1]) * (sizes[1] - _HP_SIZE[1]))
    loss += 0.2 * float((fracs[2] - _HP_FRAC[2]) * (fracs[3] - _HP_FRAC[3]))
    return loss


_BAND_TARGET = np.random.default_rng(65).uniform(0.1, 0.9, size=12)
_BAND_TARGET[1] = _BAND_TARGET[0] + 0.2 if _BAND_TARGET[0] < 0.7 else _BAND_TARGET[0] - 0.2


def band12(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(12)])
    if abs(x[0] - x[1]) >= 0.3:
        raise Crash("solver failed")
    return float(np.sum((x - _BAND_TARGET) ** 2))


_HD_BROKEN = {("ort", "fp16"), ("tvm", "int8"), ("eager", "int8")}
_HD_GAIN = {"eager": 0.0, "ort": 0.15, "tvm": 0.25}
_HD_PREC = {"fp32": 0.0, "fp16": 0.1, "int8": 0.2}
_HD_TARGET = np.random.default_rng(66).uniform(0.2, 0.8, size=12)
_HD_TARGET[:3] = np.array([0.5, 0.6, 0.7])


def cat_hd14(trial: optuna.Trial) -> float:
    backend = trial.suggest_categorical("backend", ["eager", "ort", "tvm"])
    precision = trial.suggest_categorical("precision", ["fp32", "fp16", "int8"])
    x = np.array([trial.suggest_float(f"k{i}", 0.0, 1.0) for i in range(12)])
    if (backend, precision) in _HD_BROKEN:
        raise Crash(f"{backend} has no {precision} kernels")
    if float(np.sum(x[:3])) > 2.0:
        raise Crash("out of memory")
    trial.set_constraint("mean", float(np.mean(x[6:])) / 0.62 - 1.0)
    return float(_HD_GAIN[backend] + _HD_PREC[precision] - np.sum((x - _HD_TARGET) ** 2))


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "sphere15": (sphere15, "minimize"),
    "hp_wide12": (hp_wide12, "minimize"),
    "band12": (band12, "minimize"),
    "cat_hd14": (cat_hd14, "maximize"),
}
