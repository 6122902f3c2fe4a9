"""Deploy-like: a discrete deployment space with analytic latency and memory models.

Space: ``model`` (7 ImageNet classifiers) x ``backend`` {eager, compile, onnxruntime} x
``precision`` {fp32, fp16, int8} x ``batch_size`` log-int [1, 64] x ``num_threads`` int
[1, 8] (asked only for eager and onnxruntime; ``compile`` uses all cores). Maximise top-1
accuracy subject to ``p95 latency <= 25 ms`` per batch and ``memory <= 512 MB`` (reported as
``p95 / 25 - 1`` and ``memory / 512 - 1``).

Models of an 8-core CPU (illustrative constants, not measurements):

* throughput GFLOP/s = ``40 * threads^0.85`` (eager), x1.3 for onnxruntime, ``compile`` =
  eager at 8 threads x1.25; precision speed-up: fp16 x0.6 (eager), x1.2 (compile);
  int8 x2.5 (onnxruntime, static), eager dynamic int8 quantises Linear layers only (x2.0 for
  the transformer, x1.0 for CNNs); p95 = 1.15 x mean (x1.3 when eager uses > 6 threads) plus
  a per-call overhead (eager 1.0, compile 0.5, onnxruntime 0.3 ms);
* memory MB = backend overhead (eager 150, compile 400, onnxruntime 80) + weights
  (params x bytes per value) + batch x activation MB (halved in fp16, quartered in int8);
* accuracy: the published top-1, minus 0.1 (fp16), minus 1.5 (static int8), minus 0.1 / 0.6
  (eager dynamic int8, CNN / transformer), in percent.

Crashes (realistic failure modes): onnxruntime has no fp16 CPU kernels; ``compile`` does not
support int8; eager fp16 lacks half-precision depthwise-convolution kernels (MobileNets,
EfficientNet); onnxruntime int8 fails on MobileNetV3's hard-swish; any configuration needing
more than 2048 MB is killed (out of memory). Discrete (27 k configurations): exact oracle by
enumeration. This is the kind of space where default TPE is known to lose to random search.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

#: model -> (top-1 %, params (millions), GFLOPs per image, activation MB per image, is_cnn,
#: has depthwise convolutions)
MODELS: dict[str, tuple[float, float, float, float, bool, bool]] = {
    "mobilenet_v3_small": (67.7, 2.5, 0.06, 5.0, True, True),
    "mobilenet_v2": (71.9, 3.5, 0.30, 12.0, True, True),
    "resnet18": (69.8, 11.7, 1.81, 8.0, True, False),
    "efficientnet_b0": (77.7, 5.3, 0.39, 18.0, True, True),
    "resnet50": (80.9, 25.6, 4.09, 20.0, True, False),
    "convnext_tiny": (82.5, 28.6, 4.46, 25.0, True, False),
    "vit_b_16": (81.1, 86.6, 17.56, 30.0, False, False),
}
BACKENDS = ("eager", "compile", "onnxruntime")
PRECISIONS = ("fp32", "fp16", "int8")
LATENCY_CAP_MS = 25.0
MEMORY_CAP_MB = 512.0
DEVICE_MEMORY_MB = 2048.0
_OVERHEAD_MS = {"eager": 1.0, "compile": 0.5, "onnxruntime": 0.3}
_OVERHEAD_MB = {"eager": 150.0, "compile": 400.0, "onnxruntime": 80.0}
_BYTES = {"fp32": 4.0, "fp16": 2.0, "int8": 1.0}


def _crash_reason(model: str, backend: str, precision: str) -> str | None:
    depthwise = MODELS[model][5]
    if backend == "onnxruntime" and precision == "fp16":
        return "onnxruntime CPU has no fp16 kernels"
    if backend == "compile" and precision == "int8":
        return "torch.compile does not support this int8 path"
    if backend == "eager" and precision == "fp16" and depthwise:
        return "no half-precision depthwise convolution kernel on CPU"
    if backend == "onnxruntime" and precision == "int8" and model == "mobilenet_v3_small":
        return "onnxruntime int8 cannot quantise hard-swish"
    return None


def _measure(
    model: str, backend: str, precision: str, batch: int, threads: int
) -> tuple[float, float, float]:
    """(accuracy %, p95 latency ms, memory MB) of a configuration (noise-free)."""
    top1, params_m, gflops, act_mb, is_cnn, _ = MODELS[model]
    if backend == "compile":
        throughput = 40.0 * 8**0.85 * 1.25
    else:
        throughput = 40.0 * threads**0.85 * (1.3 if backend == "onnxruntime" else 1.0)
    accuracy = top1
    if precision == "fp16":
        throughput *= 0.6 if backend == "eager" else 1.2
        accuracy -= 0.1
    elif precision == "int8":
        if backend == "onnxruntime":
            throughput *= 2.5
            accuracy -= 1.5
        else:  # eager dynamic quantisation: Linear layers only
            throughput *= 1.0 if is_cnn else 2.0
            accuracy -= 0.1 if is_cnn else 0.6
    mean_ms = gflops * batch / throughput * 1e3 + _OVERHEAD_MS[backend]
    tail = 1.3 if (backend == "eager" and threads > 6) else 1.15
    memory = (
        _OVERHEAD_MB[backend]
        + params_m * _BYTES[precision]
        + batch * act_mb * _BYTES[precision] / 4.0
    )
    return accuracy, mean_ms * tail, memory


class DeployLike(SyntheticProblem):
    """Deploy-like (maximise accuracy in percent; discrete, exact oracle)."""

    name = "deploy_like"
    direction = "maximize"
    constraint_keys = ("latency", "memory")
    discrete = True

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        model = space.categorical("model", list(MODELS))
        backend = space.categorical("backend", list(BACKENDS))
        precision = space.categorical("precision", list(PRECISIONS))
        batch = space.int("batch_size", 1, 64, log=True)
        threads = space.int("num_threads", 1, 8) if backend != "compile" else 8
        reason = _crash_reason(model, backend, precision)
        if reason is not None:
            return crash(reason)
        accuracy, p95, memory = _measure(model, backend, precision, batch, threads)
        if memory > DEVICE_MEMORY_MB:
            return crash(f"out of memory ({memory:.0f} MB)")
        return Outcome(
            accuracy,
            {"latency": p95 / LATENCY_CAP_MS - 1.0, "memory": memory / MEMORY_CAP_MB - 1.0},
        )

    def _compute_oracle(self) -> float:
        best = -math.inf
        for model, backend, precision in itertools.product(MODELS, BACKENDS, PRECISIONS):
            if _crash_reason(model, backend, precision) is not None:
                continue
            for batch in range(1, 65):
                for threads in range(1, 9) if backend != "compile" else (8,):
                    accuracy, p95, memory = _measure(model, backend, precision, batch, threads)
                    if p95 <= LATENCY_CAP_MS and memory <= MEMORY_CAP_MB:
                        best = max(best, accuracy)
        return best
