"""Eighth held-out set (eleventh session) for ``examples/heldout_problems.py``.

Four low-dimensional problems written after the session's rule was adopted, to look for
pathologies on kinds of space the earlier sets cover thinly; run once (see the results
page). See the docstring of ``heldout_problems.py`` for how they are scored.

* ``gbm_hpo`` — a gradient-boosting search (minimise a validation-loss surrogate): log-scale
  learning rate, log-int number of trees, depth, subsample and column fractions and a
  log-scale minimum child weight. Deep forests with many trees run out of memory (crash);
  a training-time limit applies (constraint), and the best configurations sit near it.
* ``quant_serve`` — an LLM-serving pick (maximise tokens per second): model (5 sizes with
  a quality each), runtime (3), weight precision (3), KV-cache precision (2), a log-int
  batch size and a maximum sequence length in steps of 256. Memory above the device's
  (crash), two unsupported runtime × precision pairs (crash), a quality floor and a latency
  limit (constraints).
* ``narrow_valley`` — three floats (minimise); feasible only inside a thin curved valley
  (constraint), and the solver crashes far from the centre.
* ``cond_deep`` — a two-level define-by-run space (minimise a loss surrogate): optimizer
  (sgd with momentum and a nesterov flag, or adam with beta2), a log-scale learning rate,
  and a scheduler (none, cosine with warm-up steps, or step decay with gamma and a step
  size). sgd with nesterov and momentum 0 is rejected (crash); adam above a learning-rate
  limit diverges (crash); step decay with a tiny gamma stalls (pruned).

Under uniform sampling (3000 ``RandomSampler`` draws, seed 1) the shares of crashed /
infeasible-or-pruned / feasible trials are: gbm_hpo 0.09 / 0.21 / 0.70, quant_serve
0.32 / 0.37 / 0.31, narrow_valley 0.38 / 0.58 / 0.03, cond_deep 0.21 / 0.08 / 0.71.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import optuna

Crash = third_set.Crash


def gbm_hpo(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("learning_rate", 1e-3, 0.5, log=True)
    trees = trial.suggest_int("n_estimators", 10, 3000, log=True)
    depth = trial.suggest_int("max_depth", 2, 16)
    subsample = trial.suggest_float("subsample", 0.3, 1.0)
    colsample = trial.suggest_float("colsample", 0.3, 1.0)
    child = trial.suggest_float("min_child_weight", 0.1, 100.0, log=True)
    if depth >= 11 and trees > 800:
        raise Crash("out of memory")
    # training time grows with trees, 2^depth (capped) and the row/column fractions
    seconds = trees * min(2.0**depth, 512.0) * subsample * colsample / 4000.0
    trial.set_constraint("train_time", seconds / 10.0 - 1.0)
    effective = math.log10(lr * trees)  # lr * trees around 30 is best
    loss = 0.20 + 0.05 * (effective - 1.5) ** 2 + 0.04 * (math.log10(lr) + 1.3) ** 2
    loss += 0.01 * (depth - 8) ** 2 / 4.0 + 0.1 * (subsample - 0.8) ** 2
    loss += 0.1 * (colsample - 0.6) ** 2 + 0.01 * (math.log10(child) - 0.5) ** 2
    return float(loss)


_QS_MODELS = {"1b": (1.0, 0.55), "3b": (3.0, 0.62), "8b": (8.0, 0.70),
              "14b": (14.0, 0.74), "32b": (32.0, 0.79)}
_QS_RUNTIME = {"hf": 1.0, "vllm": 2.2, "trt": 2.8}
_QS_WBYTES = {"fp16": 2.0, "int8": 1.0, "int4": 0.5}
_QS_QLOSS = {"fp16": 0.0, "int8": 0.01, "int4": 0.04}
_QS_BROKEN = {("hf", "int4"), ("trt", "int8")}


def quant_serve(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", list(_QS_MODELS))
    runtime = trial.suggest_categorical("runtime", list(_QS_RUNTIME))
    weights = trial.suggest_categorical("weights", list(_QS_WBYTES))
    kv = trial.suggest_categorical("kv_cache", ["fp16", "fp8"])
    batch = trial.suggest_int("batch", 1, 128, log=True)
    seq = trial.suggest_int("max_seq", 512, 8192, step=256)
    params, quality = _QS_MODELS[model]
    if (runtime, weights) in _QS_BROKEN:
        raise Crash(f"{runtime} has no {weights} kernels")
    kv_bytes = 1.0 if kv == "fp8" else 2.0
    memory_gb = params * _QS_WBYTES[weights] + 0.00012 * params * kv_bytes * batch * seq / 8.0
    if memory_gb > 80.0:
        raise Crash("CUDA out of memory")
    acc = quality - _QS_QLOSS[weights] - (0.01 if kv == "fp8" else 0.0)
    trial.set_constraint("quality", (0.68 - acc) / 0.68)
    step_ms = 4.0 + params * _QS_WBYTES[weights] * (1.0 + 0.02 * batch) / _QS_RUNTIME[runtime]
    trial.set_constraint("latency", step_ms / 60.0 - 1.0)
    return float(1000.0 * batch / step_ms * min(1.0, seq / 2048.0) ** 0.3)


def narrow_valley(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    y = trial.suggest_float("y", -3.0, 3.0)
    z = trial.suggest_float("z", 0.0, 1.0)
    if x * x + y * y > 7.0:
        raise Crash("solver diverged")
    trial.set_constraint("valley", abs(y - 0.5 * x * x + 1.0) / 0.15 - 1.0)
    return float((x - 1.2) ** 2 + 0.5 * (z - 0.3) ** 2 + 0.1 * y)


def cond_deep(trial: optuna.Trial) -> float:
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    loss = 0.3
    if optimizer == "sgd":
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        nesterov = trial.suggest_categorical("nesterov", [False, True])
        if nesterov and momentum < 0.05:
            raise Crash("nesterov momentum requires a momentum")
        loss += 0.06 * (math.log10(lr) + 1.0) ** 2 + 0.2 * (momentum - 0.9) ** 2
        loss -= 0.01 if nesterov else 0.0
    else:
        beta2 = trial.suggest_float("beta2", 0.9, 0.9999)
        if lr > 0.01:
            raise Crash("loss diverged")
        loss += 0.06 * (math.log10(lr) + 3.0) ** 2 + 5.0 * (beta2 - 0.995) ** 2 - 0.02
    scheduler = trial.suggest_categorical("scheduler", ["none", "cosine", "step"])
    if scheduler == "cosine":
        warmup = trial.suggest_int("warmup", 0, 2000, step=100)
        loss -= 0.03 - 0.03 * abs(warmup - 500) / 2000.0
    elif scheduler == "step":
        gamma = trial.suggest_float("gamma", 0.01, 0.9, log=True)
        step_size = trial.suggest_int("step_size", 1, 50)
        if gamma < 0.05:
            trial.report(loss + 1.0, step=0)
            raise optuna.TrialPruned("learning rate decayed to zero")
        loss -= 0.02 - 0.02 * abs(gamma - 0.3) - 0.0004 * abs(step_size - 20)
    return float(loss)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "gbm_hpo": (gbm_hpo, "minimize"),
    "quant_serve": (quant_serve, "maximize"),
    "narrow_valley": (narrow_valley, "minimize"),
    "cond_deep": (cond_deep, "minimize"),
}
