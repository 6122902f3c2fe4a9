"""Third held-out set (seventh session) for ``examples/heldout_problems.py``.

Written after every default was fixed and run once before any change; see the docstring of
``heldout_problems.py`` for how they are scored.

* ``cond_arch`` — define-by-run architecture search (minimise an error): a ``family``
  choice decides which parameters exist (CNN depth/width, transformer layers/heads/width,
  MLP units/dropout) next to a shared log-scale learning rate; transformers whose head
  width is under 16 are unsupported (crash), models over twice the memory limit run out of
  memory (crash), and a latency limit applies.
* ``crash_half`` — four floats where about half of the box crashes (a wavy hidden
  boundary, as in hidden-constraint benchmarks); the optimum lies next to that boundary
  (minimise).
* ``oom_batch`` — a throughput pick (maximise images per second): model, precision,
  resolution and a log-scale batch size; out of memory (crash) above 1.5x the memory
  limit, memory and latency limits, so the best batch sits just under a limit.
* ``flaky`` — a smooth mixed problem (minimise) where 20 % of evaluations crash at random,
  whatever the configuration (a flaky machine): blaming values for those crashes is wrong.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import optuna


class Crash(Exception):
    """The configuration crashed (the trial becomes FAIL)."""


_ARCH_MEMORY_LIMIT = 1.0
_ARCH_LATENCY_LIMIT = 1.0


def cond_arch(trial: optuna.Trial) -> float:
    family = trial.suggest_categorical("family", ["cnn", "transformer", "mlp"])
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    lr_term = 0.05 * (math.log10(lr) + 3.0) ** 2
    if family == "cnn":
        depth = trial.suggest_int("depth", 2, 12)
        width = trial.suggest_int("width", 16, 512, log=True)
        error = 0.30 - 0.012 * depth - 0.03 * math.log2(width / 16) / 5
        memory = depth * width / 2500.0
        latency = depth * width / 3000.0
    elif family == "transformer":
        layers = trial.suggest_int("layers", 1, 12)
        heads = trial.suggest_categorical("heads", [1, 2, 4, 8, 16])
        dim = trial.suggest_categorical("dim", [64, 128, 256, 512, 1024])
        if dim // heads < 16:
            raise Crash("unsupported head width")
        error = 0.28 - 0.015 * layers - 0.04 * math.log2(dim / 64) / 4 + 0.01 * abs(
            math.log2(dim / heads) - 6)
        memory = layers * (dim / 256) ** 2 / 4.0
        latency = layers * dim / 2800.0
    else:
        units = trial.suggest_int("units", 32, 4096, log=True)
        dropout = trial.suggest_float("dropout", 0.0, 0.6)
        error = 0.26 - 0.02 * math.log2(units / 32) / 7 + 0.2 * (dropout - 0.3) ** 2
        memory = units / 3000.0
        latency = units / 5000.0
    if memory > 2.0 * _ARCH_MEMORY_LIMIT:
        raise Crash("out of memory")
    trial.set_constraint("memory", memory / _ARCH_MEMORY_LIMIT - 1.0)
    trial.set_constraint("latency", latency / _ARCH_LATENCY_LIMIT - 1.0)
    return float(error + lr_term)


def crash_half(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)])
    boundary = 0.5 + 0.15 * math.sin(6.0 * x[1]) * math.cos(4.0 * x[2])
    if x[0] + 0.3 * (x[3] - 0.5) > boundary:
        raise Crash("solver diverged")
    target = np.array([boundary - 0.02, 0.3, 0.6, 0.5])
    return float(np.sum((x - target) ** 2) - 2.0 * x[0])


_OOM_MODELS = {  # name: (flops per image, memory per image, weights memory, speed bonus)
    "small": (0.4, 0.010, 0.10, 1.00),
    "medium": (1.0, 0.020, 0.25, 1.05),
    "large": (2.5, 0.045, 0.60, 1.10),
    "wide": (1.6, 0.060, 0.30, 1.20),
    "deep": (3.0, 0.030, 0.50, 1.15),
}
_OOM_PREC = {"fp32": (1.0, 1.0), "fp16": (0.55, 0.5), "int8": (0.4, 0.3)}
_OOM_MEMORY_LIMIT = 2.0
_OOM_LATENCY_LIMIT = 40.0


def oom_batch(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", list(_OOM_MODELS))
    precision = trial.suggest_categorical("precision", list(_OOM_PREC))
    resolution = trial.suggest_categorical("resolution", [128, 160, 224, 320, 448])
    batch = trial.suggest_int("batch", 1, 256, log=True)
    flops, act, weights, bonus = _OOM_MODELS[model]
    speed, mem_factor = _OOM_PREC[precision]
    if model == "wide" and precision == "int8":
        raise Crash("unsupported int8 op")
    pixels = (resolution / 224) ** 2
    memory = mem_factor * (weights + act * pixels * batch)
    if memory > 1.5 * _OOM_MEMORY_LIMIT:
        raise Crash("out of memory")
    latency = 2.0 + flops * speed * pixels * batch * 1.2
    trial.set_constraint("memory", memory / _OOM_MEMORY_LIMIT - 1.0)
    trial.set_constraint("latency", latency / _OOM_LATENCY_LIMIT - 1.0)
    quality = 0.8 + 0.2 * min(pixels, 1.0)  # under 224 px the images lose accuracy
    return float(bonus * quality * 1000.0 * batch / latency)


def flaky(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b", "c", "d"])
    mode = trial.suggest_categorical("mode", ["x", "y", "z"])
    u = trial.suggest_float("u", -2.0, 2.0)
    k = trial.suggest_int("k", 1, 20)
    key = f"flaky:{trial.number}".encode()  # the same trials crash for every sampler
    if int.from_bytes(hashlib.sha256(key).digest()[:4], "little") / 2**32 < 0.2:
        raise Crash("flaky worker")
    base = {"a": 0.4, "b": 0.0, "c": 0.3, "d": 0.6}[kind] + {"x": 0.2, "y": 0.0, "z": 0.1}[mode]
    trial.set_constraint("k", (k - 15) / 15.0)
    return float(base + (u - 0.7) ** 2 + 0.05 * abs(k - 12))


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "cond_arch": (cond_arch, "minimize"),
    "crash_half": (crash_half, "minimize"),
    "oom_batch": (oom_batch, "maximize"),
    "flaky": (flaky, "minimize"),
}
