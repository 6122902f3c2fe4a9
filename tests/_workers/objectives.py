"""Deterministic, crash-prone toy objectives shared by the in-process and subprocess tests.

Every outcome (value, constraint, crash) is a pure function of the parameters, so two
trials with identical parameters always have identical outcomes; this is what lets the
tests treat a repeated configuration as a wasted duplicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import optuna

MODELS: tuple[str, ...] = ("m0", "m1", "m2", "m3")
BACKENDS: tuple[str, ...] = ("eager", "compiled", "onnx")
#: Number of distinct configurations of :func:`crashy_discrete`.
DISCRETE_SPACE_SIZE: int = len(MODELS) * len(BACKENDS) * 16 * 4


class ToyCrash(RuntimeError):
    """The deterministic crash raised by the toy objectives."""


def crashy_discrete(trial: optuna.Trial) -> float:
    """A finite discrete space of 768 configurations with crashes and one constraint.

    Crashes: ``m3`` with ``onnx`` (a failing value pair) and ``compiled`` with
    ``batch >= 8``. Constraint: ``batch * threads <= 16``.
    """
    model = trial.suggest_categorical("model", MODELS)
    backend = trial.suggest_categorical("backend", BACKENDS)
    batch = trial.suggest_int("batch", 1, 16)
    threads = trial.suggest_int("threads", 1, 4)
    if (model == "m3" and backend == "onnx") or (backend == "compiled" and batch >= 8):
        raise ToyCrash(f"toy crash for {model}/{backend}/batch={batch}")
    trial.set_constraint("load", batch * threads / 16.0 - 1.0)
    return MODELS.index(model) * 0.1 + BACKENDS.index(backend) * 0.05 + math.log2(batch) * 0.02


def crashy_branin(trial: optuna.Trial) -> float:
    """Crashy Branin (to be maximised): a categorical mode, two floats and an integer.

    Crashes when ``mode == "C" and x1 > 8`` or ``resolution > 7 and x2 > 12``; constraints
    ``x1 + x2 <= 16`` and ``-x1 + 2 x2 <= 10``.
    """
    mode = trial.suggest_categorical("mode", ["A", "B", "C"])
    x1 = trial.suggest_float("x1", 0.0, 15.0)
    x2 = trial.suggest_float("x2", 0.0, 15.0)
    resolution = trial.suggest_int("resolution", 1, 10)
    if (mode == "C" and x1 > 8.0) or (resolution > 7 and x2 > 12.0):
        raise ToyCrash("toy crash")
    trial.set_constraint("sum", (x1 + x2 - 16.0) / 16.0)
    trial.set_constraint("slope", (-x1 + 2.0 * x2 - 10.0) / 10.0)
    shift = {"A": 0.0, "B": 2.0, "C": -2.0}[mode]
    a, b, c = 1.0, 5.1 / (4.0 * math.pi**2), 5.0 / math.pi
    r, s, t = 6.0, 10.0, 1.0 / (8.0 * math.pi)
    u = x1 + shift - 5.0
    branin = a * (x2 - b * u**2 + c * u - r) ** 2 + s * (1.0 - t) * math.cos(u) + s
    return -(branin + 0.1 * resolution)


def bad_model(trial: optuna.Trial) -> float:
    """48 configurations; every configuration with ``model == "bad"`` crashes.

    ``model`` is the only categorical, so the blacklist can only blame the bad model.
    """
    model = trial.suggest_categorical("model", ["good1", "good2", "bad"])
    batch = trial.suggest_int("batch", 1, 16)
    if model == "bad":
        raise ToyCrash("the bad model always crashes")
    trial.set_constraint("load", batch / 12.0 - 1.0)
    return float(batch) + (0.25 if model == "good1" else 0.0)


OBJECTIVES: dict[str, Callable[[optuna.Trial], float]] = {
    "crashy_discrete": crashy_discrete,
    "crashy_branin": crashy_branin,
    "bad_model": bad_model,
}
