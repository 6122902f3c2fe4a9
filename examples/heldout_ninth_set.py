"""Ninth held-out set (thirteenth session) for ``examples/heldout_problems.py``.

Three low-dimensional deployment problems written after the session's rule was adopted
and run once (see the results page), each with a structure the earlier sets lack. See the
docstring of ``heldout_problems.py`` for how they are scored.

* ``raw_units`` — an edge pick (maximise accuracy plus a small throughput bonus): model
  (6), precision (3), threads (1..8), a log-int batch and an input resolution in steps of
  32. Its three limits are written in **raw units**, as many objective authors do, not as
  the relative violations the sampler recommends: ``latency_ms - 30``,
  ``memory_mb - 1500`` and ``energy_mj - 20`` (violations from a few ms to thousands of
  MB). int8 kernels are missing for two models (crash), and memory above 4000 MB crashes.
* ``cat_grid`` — the same kind of pick over **categorical values only** (minimise the
  cost per thousand inferences): model (4), backend (3), precision (3), batch as one of
  eight numbers and threads as one of four, as people write grids with
  ``suggest_categorical``. Two backend x precision pairs are unsupported (crash), memory
  above twice the limit crashes, and a p95 latency limit and a memory limit apply.
* ``backend_knobs`` — a define-by-run serving space (maximise throughput): the backend
  decides which knobs exist (TensorRT: a log-int workspace and an optimisation level;
  ONNX Runtime: a graph-optimisation level and intra-op threads; TVM: a number of tuning
  trials and a vector width). A TensorRT workspace below what the model needs fails the
  engine build (crash), TVM with few tuning trials breaks the latency limit, and a
  too-wide vector crashes on this CPU.

Under uniform sampling (600 ``RandomSampler`` trials, seed 3) the shares of crashed /
infeasible-or-pruned / feasible trials are: raw_units 0.19 / 0.48 / 0.34, cat_grid
0.33 / 0.18 / 0.49, backend_knobs 0.20 / 0.11 / 0.69.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import optuna

Crash = third_set.Crash

# model: (accuracy, milliseconds at batch 1 and 224 px on one thread in fp32, weight MB)
_RU_MODELS = {"mobilenet": (0.72, 6.0, 14.0), "efficientnet": (0.77, 14.0, 21.0),
              "resnet18": (0.70, 12.0, 45.0), "resnet50": (0.76, 28.0, 98.0),
              "convnext_t": (0.82, 45.0, 110.0), "vit_s": (0.80, 40.0, 88.0)}
_RU_PREC = {"fp32": (1.0, 1.0, 0.0), "fp16": (0.7, 0.5, 0.002), "int8": (0.45, 0.25, 0.01)}
_RU_NO_INT8 = {"efficientnet", "vit_s"}


def raw_units(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", list(_RU_MODELS))
    precision = trial.suggest_categorical("precision", list(_RU_PREC))
    threads = trial.suggest_int("threads", 1, 8)
    batch = trial.suggest_int("batch", 1, 64, log=True)
    res = trial.suggest_int("resolution", 160, 320, step=32)
    acc, ms, mb = _RU_MODELS[model]
    speed, mem_factor, acc_loss = _RU_PREC[precision]
    if precision == "int8" and model in _RU_NO_INT8:
        raise Crash(f"no int8 kernels for {model}")
    pixels = (res / 224.0) ** 2
    latency_ms = ms * speed * pixels * batch**0.8 / threads**0.7
    memory_mb = 300.0 + mb * mem_factor * 4.0 + 45.0 * batch * pixels * (1.0 + threads / 8)
    if memory_mb > 4000.0:
        raise Crash("out of memory")
    energy_mj = latency_ms * (1.0 + 0.35 * threads) / batch
    trial.set_constraint("latency_ms", latency_ms - 30.0)
    trial.set_constraint("memory_mb", memory_mb - 1500.0)
    trial.set_constraint("energy_mj", energy_mj - 20.0)
    accuracy = acc - acc_loss + 0.03 * math.log2(res / 224.0)
    throughput = 1000.0 * batch / latency_ms
    return float(accuracy + 0.02 * math.log10(1.0 + throughput))


# model: (milliseconds per image on one thread, weight MB)
_CG_MODELS = {"small": (4.0, 60.0), "medium": (9.0, 160.0), "large": (20.0, 420.0),
              "xl": (38.0, 900.0)}
_CG_BACKEND = {"torch": 1.0, "ort": 0.7, "openvino": 0.55}
_CG_PREC = {"fp32": (1.0, 1.0), "fp16": (0.8, 0.5), "int8": (0.5, 0.25)}
_CG_BROKEN = {("torch", "int8"), ("openvino", "fp16")}
_CG_QUALITY = {"small": 0.3, "medium": 0.15, "large": 0.05, "xl": 0.0}


def cat_grid(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", list(_CG_MODELS))
    backend = trial.suggest_categorical("backend", list(_CG_BACKEND))
    precision = trial.suggest_categorical("precision", list(_CG_PREC))
    batch = trial.suggest_categorical("batch", [1, 2, 4, 8, 16, 32, 64, 128])
    threads = trial.suggest_categorical("threads", [1, 2, 4, 8])
    if (backend, precision) in _CG_BROKEN:
        raise Crash(f"{backend} does not support {precision}")
    ms, mb = _CG_MODELS[model]
    speed, mem = _CG_PREC[precision]
    step_ms = 2.0 + ms * _CG_BACKEND[backend] * speed * batch**0.85 / threads**0.75
    memory_mb = mb * mem + 6.0 * batch * (1.0 + 0.25 * threads) * (ms / 4.0) ** 0.5
    if memory_mb > 2.0 * 1024.0:
        raise Crash("out of memory")
    trial.set_constraint("p95_latency", step_ms * 1.3 / 100.0 - 1.0)
    trial.set_constraint("memory", memory_mb / 1024.0 - 1.0)
    # cost per thousand inferences: machine time (threads are billed) plus a quality
    # penalty for smaller models, in the same currency
    cost = 1000.0 * step_ms / batch * (0.5 + threads / 8.0) / 1000.0
    return float(cost + 20.0 * _CG_QUALITY[model])


def backend_knobs(trial: optuna.Trial) -> float:
    backend = trial.suggest_categorical("backend", ["tensorrt", "onnxruntime", "tvm"])
    batch = trial.suggest_int("batch", 1, 64, log=True)
    base_ms = 3.0 + 0.9 * batch**0.9  # milliseconds per batch before backend effects
    if backend == "tensorrt":
        workspace = trial.suggest_int("workspace_mb", 16, 4096, log=True)
        level = trial.suggest_int("opt_level", 0, 5)
        if workspace < 64 * (1 + batch // 16):
            raise Crash("engine build failed: workspace too small")
        ms = base_ms * (0.55 - 0.04 * level) + 0.0004 * workspace
    elif backend == "onnxruntime":
        graph = trial.suggest_categorical("graph_opt", ["disable", "basic", "extended", "all"])
        intra = trial.suggest_int("intra_threads", 1, 16)
        gain = {"disable": 1.0, "basic": 0.85, "extended": 0.75, "all": 0.72}[graph]
        ms = base_ms * gain * (0.5 + 1.0 / intra**0.8) + 0.08 * max(0, intra - 8) * batch**0.5
    else:
        tuning = trial.suggest_int("tuning_trials", 10, 2000, log=True)
        width = trial.suggest_categorical("vector_width", [4, 8, 16, 32])
        if width == 32:
            raise Crash("illegal instruction: 512-bit vectors on this CPU")
        ms = base_ms * (0.45 + 2.0 / math.sqrt(tuning)) * (8.0 / width) ** 0.2
    trial.set_constraint("latency", ms / 15.0 - 1.0)
    return float(1000.0 * batch / ms)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "raw_units": (raw_units, "maximize"),
    "cat_grid": (cat_grid, "minimize"),
    "backend_knobs": (backend_knobs, "maximize"),
}
