"""Tenth held-out set (fourteenth session) for ``examples/heldout_problems.py``.

Four low-dimensional deployment and training problems, written before they were run and
run once (see the results page); nothing in the sampler was changed because of them. Each
has a structure the earlier sets lack. See the docstring of ``heldout_problems.py`` for
how they are scored.

* ``mem_edge`` — a data-parallel training pick on eight GPUs (maximise samples per
  second): precision (3), ZeRO stage (0..3, categorical), activation checkpointing (a
  flag), a log-int micro-batch and an int number of gradient-accumulation steps. Memory
  above the GPU's crashes (out of memory), fp16 with ZeRO-3 diverges (crash), and the
  global batch ``8 * micro * accum`` must lie between 256 and 2048 (two one-sided
  constraints on a product of integers) with a step-time limit. Throughput grows with the
  micro-batch, so the best settings sit at the out-of-memory edge.
* ``noisy_edge`` — an edge pick measured with noise (minimise energy per inference, which
  is computed, not measured): model (3), precision (3), CPU governor (3), threads (1..12)
  and a log-int batch. The p95 latency limit is checked against a measurement with 8 %
  log-normal noise drawn per trial, so near the limit the same configuration can be
  feasible once and infeasible the next time (the trial's noise is seeded by its number
  and parameters: a run is reproducible). The performance governor with more than ten
  threads trips the thermal limit (crash); fp16 on the smallest model is not implemented
  (crash).
* ``thread_pools`` — an inference-server threading pick (minimise milliseconds per
  image): intra-op threads (1..32), inter-op threads (1..8), thread affinity (3), a spin
  flag and a log-int batch, on a 32-core machine. Oversubscription (``intra * inter`` above
  32) does not crash but slows everything down, so the latency limit (constraint) carves a
  hyperbola out of the integer grid; compact affinity with more than four inter-op pools
  fails to bind (crash).
* ``compile_modes`` — a define-by-run compiler pick (minimise milliseconds per image):
  backend ``eager`` / ``inductor`` / ``onnx``, with inductor's mode (3) and a dynamic-shape
  flag, or ONNX's opset (13..20) and execution provider (2); a log-int batch and a
  precision shared by all. fp16 on the CPU is not implemented in eager mode (crash),
  max-autotune with dynamic shapes fails (crash), opsets below 17 lack the model's layer
  norm (crash), and a compile-time limit applies (constraint).

Under uniform sampling (600 ``RandomSampler`` trials, seed 3) the shares of crashed /
infeasible-or-pruned / feasible trials are: mem_edge 0.16 / 0.51 / 0.33, noisy_edge
0.16 / 0.33 / 0.51, thread_pools 0.15 / 0.73 / 0.12, compile_modes 0.34 / 0.07 / 0.59.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Literal

import heldout_third_set as third_set
import numpy as np
import optuna

Crash = third_set.Crash

_ME_PREC = {"fp32": (4.0, 1.0), "bf16": (2.0, 2.6), "fp16": (2.0, 2.8)}  # bytes, speed-up
_ME_SHARD = {0: 1.0, 1: 0.55, 2: 0.35, 3: 1.0 / 8.0}  # share of the 16 bytes/param states


def mem_edge(trial: optuna.Trial) -> float:
    precision = trial.suggest_categorical("precision", list(_ME_PREC))
    zero = trial.suggest_categorical("zero_stage", [0, 1, 2, 3])
    ckpt = trial.suggest_categorical("checkpointing", [False, True])
    micro = trial.suggest_int("micro_batch", 1, 128, log=True)
    accum = trial.suggest_int("grad_accum", 1, 16)
    nbytes, speed = _ME_PREC[precision]
    if precision == "fp16" and zero == 3:
        raise Crash("loss became NaN (fp16 with ZeRO-3)")
    params_b = 1.3  # billions of parameters
    state_gb = params_b * (16.0 * _ME_SHARD[zero] + nbytes * (1.0 if zero < 3 else 0.125))
    act_gb = micro * (0.9 if not ckpt else 0.22) * nbytes / 2.0
    memory_gb = 2.0 + state_gb + act_gb
    if memory_gb > 80.0:
        raise Crash("CUDA out of memory")
    compute_ms = micro * 9.0 / speed * (1.33 if ckpt else 1.0)
    comm_ms = 40.0 * (1.0 + 0.5 * (zero >= 2) + 0.5 * (zero == 3))
    step_ms = accum * (4.0 + compute_ms) + comm_ms
    global_batch = 8 * micro * accum
    trial.set_constraint("global_batch_low", 256.0 / global_batch - 1.0)
    trial.set_constraint("global_batch_high", global_batch / 2048.0 - 1.0)
    trial.set_constraint("step_time", step_ms / 4000.0 - 1.0)
    return float(1000.0 * global_batch / step_ms)


# model: (energy mJ and ms at batch 1, one thread, fp32)
_NE_MODELS = {"tiny": (4.0, 3.0), "small": (11.0, 8.0), "base": (30.0, 21.0)}
_NE_QUALITY = {"tiny": 6.0, "small": 2.0, "base": 0.0}  # energy-equivalent quality penalty
_NE_PREC = {"fp32": (1.0, 1.0), "fp16": (0.7, 0.6), "int8": (0.45, 0.4)}
_NE_GOV = {"powersave": (0.7, 1.6), "balanced": (1.0, 1.0), "performance": (1.5, 0.75)}


def noisy_edge(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", list(_NE_MODELS))
    precision = trial.suggest_categorical("precision", list(_NE_PREC))
    governor = trial.suggest_categorical("governor", list(_NE_GOV))
    threads = trial.suggest_int("threads", 1, 12)
    batch = trial.suggest_int("batch", 1, 32, log=True)
    if governor == "performance" and threads > 10:
        raise Crash("thermal trip")
    if model == "tiny" and precision == "fp16":
        raise Crash("fp16 kernel not implemented")
    energy, ms = _NE_MODELS[model]
    e_prec, t_prec = _NE_PREC[precision]
    power, t_gov = _NE_GOV[governor]
    latency_ms = ms * t_prec * t_gov * batch**0.85 / threads**0.75 + 0.4 * threads
    key = zlib.crc32(repr((trial.number, model, precision, governor, threads, batch)).encode())
    measured = latency_ms * float(np.exp(np.random.default_rng(key).normal(0.0, 0.08)))
    trial.set_constraint("p95_latency", measured / 12.0 - 1.0)
    per_inference = energy * e_prec * power * (0.6 + 0.4 * threads**0.5) / batch**0.3
    return float(per_inference + _NE_QUALITY[model])


def thread_pools(trial: optuna.Trial) -> float:
    intra = trial.suggest_int("intra_threads", 1, 32)
    inter = trial.suggest_int("inter_threads", 1, 8)
    affinity = trial.suggest_categorical("affinity", ["none", "compact", "scatter"])
    spin = trial.suggest_categorical("spin_wait", [False, True])
    batch = trial.suggest_int("batch", 1, 16, log=True)
    if affinity == "compact" and inter > 4:
        raise Crash("cannot bind thread pools: not enough cores per socket")
    cores = 32
    used = intra * inter
    oversub = max(1.0, used / cores) ** 2.5
    parallel = min(intra, 24) ** 0.8 * inter**0.5
    work_ms = 60.0 * batch**0.9 / parallel
    sync_ms = 0.15 * intra * (0.4 if spin else 1.0) + (0.0 if affinity == "none" else -0.3)
    if affinity == "scatter":
        work_ms *= 0.92
    latency_ms = (work_ms + max(0.2, sync_ms)) * oversub
    cpu_share = used / cores * (1.3 if spin else 1.0)
    trial.set_constraint("p95_latency", latency_ms / 25.0 - 1.0)
    trial.set_constraint("cpu_share", cpu_share - 1.0)
    return float(latency_ms / batch)


def compile_modes(trial: optuna.Trial) -> float:
    backend = trial.suggest_categorical("backend", ["eager", "inductor", "onnx"])
    precision = trial.suggest_categorical("precision", ["fp32", "bf16", "fp16"])
    batch = trial.suggest_int("batch", 1, 64, log=True)
    base = 2.0 + 1.1 * batch**0.9  # ms per batch, eager fp32
    prec = {"fp32": 1.0, "bf16": 0.7, "fp16": 0.65}[precision]
    if backend == "eager":
        if precision == "fp16":
            raise Crash('"addmm_impl_cpu_" not implemented for \'Half\'')
        ms, compile_s = base * prec, 0.0
    elif backend == "inductor":
        mode = trial.suggest_categorical("mode", ["default", "reduce-overhead", "max-autotune"])
        dynamic = trial.suggest_categorical("dynamic", [False, True])
        if mode == "max-autotune" and dynamic:
            raise Crash("max-autotune does not support dynamic shapes here")
        gain = {"default": 0.75, "reduce-overhead": 0.68, "max-autotune": 0.55}[mode]
        ms = base * prec * gain * (1.1 if dynamic else 1.0) + (0.0 if mode != "default" else 0.5)
        compile_s = {"default": 25.0, "reduce-overhead": 35.0, "max-autotune": 50.0}[mode]
        compile_s *= 1.0 + (0.0 if dynamic else 0.25 * math.log2(batch))
    else:
        opset = trial.suggest_int("opset", 13, 20)
        provider = trial.suggest_categorical("provider", ["cpu", "openvino"])
        if opset < 17:
            raise Crash("LayerNormalization is not in this opset")
        gain = (0.8 if provider == "cpu" else 0.6) * (1.0 - 0.02 * (opset - 17))
        ms = base * prec * gain + (1.5 if provider == "openvino" else 0.0)
        compile_s = 12.0 + (45.0 if provider == "openvino" else 0.0) * (batch / 64.0) ** 0.5
    trial.set_constraint("compile_time", compile_s / 60.0 - 1.0)
    return float(ms / batch)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "mem_edge": (mem_edge, "maximize"),
    "noisy_edge": (noisy_edge, "minimize"),
    "thread_pools": (thread_pools, "minimize"),
    "compile_modes": (compile_modes, "minimize"),
}
