"""Seventh held-out set (eleventh session) for ``examples/heldout_problems.py``.

Six problems with 10–13 parameters, written at the start of the eleventh session, before
any rule of that session was run on them (see the results page). See the docstring of
``heldout_problems.py`` for how they are scored.

* ``levy10`` — 10 floats in ``[-10, 10]``, the multimodal Levy function (minimise); it
  crashes when ``x0 + x1 > 14`` (about 5 % of the box). No constraints.
* ``log_hd11`` — eleven log-scale strengths in ``[1e-4, 1]`` (minimise a loss in log space
  around a hidden target); a compute constraint caps their sum at 1.5. No crashes.
* ``int_step13`` — thirteen integers in ``[0, 100]`` with step 5 (minimise a quadratic with
  two interactions); it crashes when both ``n0`` and ``n1`` are above 80 (about 4 %).
* ``cat3_hd12`` — three categoricals (optimizer, activation, normalisation) and nine
  floats (maximise a score); two optimizer × activation pairs and one single
  normalisation crash; a constraint caps the sum of the first three floats.
* ``cond_hd`` — define-by-run: ``kind`` ``a`` has ten floats, ``kind`` ``b`` six floats and
  four integers (minimise; the best ``b`` beats the best ``a``); ``b`` crashes when
  ``m0 + m1 > 12``. No constraints.
* ``many_walls10`` — 10 floats in ``[0, 1]`` (minimise the distance to a target with two
  coordinates at 0.9); it crashes when three or more coordinates are above 0.8 (about a
  third of the box).

Under uniform sampling (3000 ``RandomSampler`` draws, seed 1) the shares of crashed /
infeasible / feasible trials are: levy10 0.05 / 0 / 0.95, log_hd11 0 / 0.29 / 0.71,
int_step13 0.04 / 0 / 0.96, cat3_hd12 0.25 / 0.21 / 0.54, cond_hd 0.15 / 0 / 0.85,
many_walls10 0.32 / 0 / 0.68.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import numpy as np
import optuna

Crash = third_set.Crash


def levy10(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -10.0, 10.0) for i in range(10)])
    if x[0] + x[1] > 14.0:
        raise Crash("numerical blow-up")
    w = 1.0 + (x - 1.0) / 4.0
    value = np.sin(np.pi * w[0]) ** 2 + (w[-1] - 1.0) ** 2 * (1.0 + np.sin(2 * np.pi * w[-1]) ** 2)
    value += np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(np.pi * w[:-1] + 1.0) ** 2))
    return float(value)


_LOG_TARGET = np.random.default_rng(71).uniform(-3.5, -1.0, size=11)
_LOG_WEIGHT = np.random.default_rng(72).uniform(0.5, 2.0, size=11)


def log_hd11(trial: optuna.Trial) -> float:
    s = np.array([trial.suggest_float(f"s{i}", 1e-4, 1.0, log=True) for i in range(11)])
    trial.set_constraint("compute", float(np.sum(s)) / 1.5 - 1.0)
    return float(np.sum(_LOG_WEIGHT * (np.log10(s) - _LOG_TARGET) ** 2))


_INT_TARGET = np.random.default_rng(73).uniform(10.0, 90.0, size=13)
_INT_TARGET[:2] = [78.0, 74.0]


def int_step13(trial: optuna.Trial) -> float:
    n = np.array([trial.suggest_int(f"n{i}", 0, 100, step=5) for i in range(13)], dtype=float)
    if n[0] > 80 and n[1] > 80:
        raise Crash("out of memory")
    z = (n - _INT_TARGET) / 100.0
    return float(np.sum(z**2) + 0.5 * z[2] * z[3] + 0.5 * z[4] * z[5])


_C3_BROKEN = {("sgd", "gelu"), ("rmsprop", "tanh")}
_C3_GAIN = {
    "sgd": 0.0, "adam": 0.2, "rmsprop": 0.1,
    "relu": 0.0, "gelu": 0.15, "tanh": -0.05, "silu": 0.1,
    "none": 0.0, "batch": 0.1, "layer": 0.25,
}
_C3_TARGET = np.random.default_rng(74).uniform(0.2, 0.8, size=9)
_C3_TARGET[:3] = [0.7, 0.6, 0.6]


def cat3_hd12(trial: optuna.Trial) -> float:
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    act = trial.suggest_categorical("activation", ["relu", "gelu", "tanh", "silu"])
    norm = trial.suggest_categorical("norm", ["none", "batch", "layer"])
    x = np.array([trial.suggest_float(f"h{i}", 0.0, 1.0) for i in range(9)])
    if (opt, act) in _C3_BROKEN:
        raise Crash(f"{opt} with {act} diverges")
    if norm == "layer" and x[3] > 0.7:
        raise Crash("layer norm kernel missing for wide inputs")
    trial.set_constraint("budget", float(np.sum(x[:3])) / 1.8 - 1.0)
    return float(_C3_GAIN[opt] + _C3_GAIN[act] + _C3_GAIN[norm] - np.sum((x - _C3_TARGET) ** 2))


_COND_A = np.random.default_rng(75).uniform(-1.0, 1.0, size=10)
_COND_B = np.random.default_rng(76).uniform(-1.0, 1.0, size=6)


def cond_hd(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "a":
        x = np.array([trial.suggest_float(f"a{i}", -2.0, 2.0) for i in range(10)])
        return float(0.3 + np.sum((x - _COND_A) ** 2))
    y = np.array([trial.suggest_float(f"b{i}", -2.0, 2.0) for i in range(6)])
    m = np.array([trial.suggest_int(f"m{i}", 0, 10) for i in range(4)], dtype=float)
    if m[0] + m[1] > 12:
        raise Crash("solver ran out of memory")
    return float(np.sum((y - _COND_B) ** 2) + 0.05 * np.sum((m - np.array([6, 5, 2, 8])) ** 2))


_WALL_TARGET = np.random.default_rng(77).uniform(0.2, 0.7, size=10)
_WALL_TARGET[:2] = 0.9


def many_walls10(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(10)])
    if int(np.sum(x > 0.8)) >= 3:
        raise Crash("too many saturated stages")
    return float(np.sum((x - _WALL_TARGET) ** 2))


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "levy10": (levy10, "minimize"),
    "log_hd11": (log_hd11, "minimize"),
    "int_step13": (int_step13, "minimize"),
    "cat3_hd12": (cat3_hd12, "maximize"),
    "cond_hd": (cond_hd, "minimize"),
    "many_walls10": (many_walls10, "minimize"),
}
