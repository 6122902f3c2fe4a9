"""Fourth held-out set (ninth session) for ``examples/heldout_problems.py``.

Written after every default was fixed and run once before any change; see the docstring of
``heldout_problems.py`` for how they are scored. Each one has a structure the earlier sets
lack:

* ``flag_combo`` — compiler-flag tuning (maximise a speed-up): eight categorical flags and
  an optimisation level; two flag pairs and one flag triple miscompile (crash), and a
  binary-size limit applies. The flags interact, so the best setting is not the best value
  of each flag on its own.
* ``quant_mix`` — a deployment pick with a conditional accelerator branch (maximise
  accuracy minus a latency cost): ``device`` ∈ {cpu, gpu, npu}; cpu has ``threads``, gpu
  has ``streams``, npu has ``tile``; the npu runs int8 only (fp32 and fp16 crash there) and
  is the fastest, so the best configuration is a narrow corner of one branch.
* ``mostly_crash`` — five floats where about three quarters of the box crash (the runnable
  region is two overlapping ellipsoids, as in hidden-constraint benchmarks with high failure
  rates); minimise a smooth function whose optimum lies on the edge of the runnable region.
* ``wide_cat`` — a model zoo of 30 models (one categorical with 30 values), a log-scale
  batch size and a thread count; 9 models are unsupported (crash), memory above twice the
  limit is OOM, and a latency limit applies (maximise accuracy). At budget 25 most models
  are never tried, so coverage of the choices cannot decide the handoff.
* ``int_ladder`` — a data-loader pick, integers only (maximise throughput): batch size
  (log), worker processes, prefetch depth and threads; it runs out of memory (crash) when
  batch × (workers + 1) × prefetch passes a limit, and a latency limit caps the batch, so
  the best setting sits against both walls.

Under uniform sampling (3000 ``RandomSampler`` draws, seed 1) the shares of crashed /
infeasible / feasible trials are: flag_combo 0.25 / 0.30 / 0.44, quant_mix 0.36 / 0.34 /
0.30, mostly_crash 0.77 / 0 / 0.23, wide_cat 0.48 / 0.25 / 0.28, int_ladder 0.14 / 0.35 /
0.50.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import numpy as np
import optuna

Crash = third_set.Crash

_FLAG_GAIN = np.random.default_rng(41).uniform(-0.05, 0.12, size=(8, 3))
_FLAG_SIZE = np.random.default_rng(42).uniform(0.0, 0.15, size=(8, 3))


def flag_combo(trial: optuna.Trial) -> float:
    flags = [trial.suggest_categorical(f"f{i}", ["off", "on", "aggressive"]) for i in range(8)]
    level = trial.suggest_int("opt_level", 0, 3)
    idx = [["off", "on", "aggressive"].index(f) for f in flags]
    if idx[0] == 2 and idx[3] == 2:
        raise Crash("miscompile: f0 and f3 aggressive")
    if idx[1] >= 1 and idx[5] == 2 and level == 3:
        raise Crash("miscompile: f1, f5 aggressive at O3")
    if idx[6] == 2 and idx[7] == 0:
        raise Crash("linker error: f6 aggressive needs f7")
    gain = sum(_FLAG_GAIN[i, v] for i, v in enumerate(idx))
    gain += 0.08 * (idx[2] >= 1 and idx[4] >= 1)  # two flags that help only together
    gain -= 0.06 * (idx[2] == 2 and level <= 1)
    size = sum(_FLAG_SIZE[i, v] for i, v in enumerate(idx)) + 0.1 * level
    trial.set_constraint("binary_size", size / 0.9 - 1.0)
    return float(1.0 + gain + 0.05 * level)


_QM_ACC = {"fp32": 0.80, "fp16": 0.795, "int8": 0.78}
_QM_SPEED = {"fp32": 1.0, "fp16": 0.6, "int8": 0.4}


def quant_mix(trial: optuna.Trial) -> float:
    device = trial.suggest_categorical("device", ["cpu", "gpu", "npu"])
    precision = trial.suggest_categorical("precision", ["fp32", "fp16", "int8"])
    batch = trial.suggest_int("batch", 1, 32, log=True)
    if device == "cpu":
        threads = trial.suggest_int("threads", 1, 8)
        latency = 30.0 * _QM_SPEED[precision] * batch**0.9 / threads**0.7
        memory = 0.3 + 0.02 * batch
    elif device == "gpu":
        streams = trial.suggest_int("streams", 1, 8)
        if precision == "int8":
            raise Crash("no int8 kernels on this gpu")
        latency = 6.0 * _QM_SPEED[precision] * (1.0 + batch / (4.0 * streams)) + 0.5 * streams
        memory = 0.8 + 0.05 * batch * streams**0.5
    else:
        tile = trial.suggest_categorical("tile", [8, 16, 32, 64, 128])
        if precision != "int8":
            raise Crash("npu runs int8 only")
        fit = abs(math.log2(tile) - 5.0)  # the 32 tile fits the npu's buffers
        latency = (2.0 + 1.5 * fit) * (1.0 + batch / 8.0)
        memory = 0.2 + 0.004 * tile * batch
    if memory > 3.0:
        raise Crash("out of memory")
    trial.set_constraint("latency", latency / 12.0 - 1.0)
    trial.set_constraint("memory", memory / 1.5 - 1.0)
    return float(_QM_ACC[precision] - 0.004 * latency / batch)


_MC_A = np.array([0.25, 0.3, 0.5, 0.4, 0.6])
_MC_B = np.array([0.7, 0.65, 0.4, 0.55, 0.35])
_MC_TARGET = np.array([0.9, 0.9, 0.1, 0.5, 0.5])


def mostly_crash(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(5)])
    in_a = float(np.sum(((x - _MC_A) / np.array([0.35, 0.4, 0.6, 0.6, 0.6])) ** 2)) <= 1.0
    in_b = float(np.sum(((x - _MC_B) / np.array([0.3, 0.3, 0.6, 0.6, 0.6])) ** 2)) <= 1.0
    if not (in_a or in_b):
        raise Crash("solver failed to converge")
    return float(np.sum((x - _MC_TARGET) ** 2))


_ZOO = np.random.default_rng(43).uniform([0.60, 0.5, 0.1], [0.88, 6.0, 1.2], size=(30, 3))
_ZOO_BROKEN = {3, 7, 8, 12, 17, 20, 24, 27, 29}


def wide_cat(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", [f"m{i:02d}" for i in range(30)])
    batch = trial.suggest_int("batch", 1, 64, log=True)
    threads = trial.suggest_int("threads", 1, 8)
    i = int(model[1:])
    acc, gflops, weights = _ZOO[i]
    if i in _ZOO_BROKEN:
        raise Crash(f"unsupported operator in {model}")
    memory = weights + 0.03 * gflops * batch
    if memory > 2.0 * 1.0:
        raise Crash("out of memory")
    latency = gflops * batch**0.85 / threads**0.75 * 4.0
    trial.set_constraint("latency", latency / 20.0 - 1.0)
    trial.set_constraint("memory", memory / 1.0 - 1.0)
    return float(acc + 0.002 * math.log2(batch))


def int_ladder(trial: optuna.Trial) -> float:
    batch = trial.suggest_int("batch", 1, 512, log=True)
    workers = trial.suggest_int("workers", 0, 8)
    prefetch = trial.suggest_int("prefetch", 1, 16)
    threads = trial.suggest_int("threads", 1, 8)
    if batch * (workers + 1) * prefetch > 6000:
        raise Crash("out of memory")
    load = 2.0 * batch / (1.0 + workers) ** 0.8 + 1.0 / prefetch
    compute = 0.5 * batch / threads**0.6 + 0.3 * threads
    step = max(load, compute) + 0.1 * min(load, compute)
    trial.set_constraint("latency", step / 60.0 - 1.0)
    trial.set_constraint("cpu", (workers + threads) / 10.0 - 1.0)
    return float(1000.0 * batch / step)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "flag_combo": (flag_combo, "maximize"),
    "quant_mix": (quant_mix, "maximize"),
    "mostly_crash": (mostly_crash, "minimize"),
    "wide_cat": (wide_cat, "maximize"),
    "int_ladder": (int_ladder, "maximize"),
}
