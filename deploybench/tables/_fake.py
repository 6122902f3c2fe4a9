"""A synthetic, deterministic profiler for tests and demos of the recorder.

It never touches a model: latencies are a closed-form function of the configuration
times a log-normal factor drawn from a generator seeded by the configuration key and
``settings.passes`` (so every call for one configuration returns the same numbers). Some
configurations crash on purpose (``torch_compile`` + ``int8`` is "unsupported",
``vit_b16`` at batch 32 is "oom") and very slow ones are aborted like the live
profiler would.

Set ``DEPLOYBENCH_FAKE_PROFILE_SLEEP_S`` to make each call sleep (used by the
kill-and-resume test).
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings

_MODEL_MS = {
    "resnet18": 6.0,
    "resnet50": 14.0,
    "mobilenet_v2": 3.0,
    "efficientnet_b0": 5.0,
    "vit_ti16": 4.0,
    "vit_b16": 30.0,
}
_ACCURACY = {
    "resnet18": 0.697,
    "resnet50": 0.761,
    "mobilenet_v2": 0.719,
    "efficientnet_b0": 0.777,
    "vit_ti16": 0.755,
    "vit_b16": 0.811,
}
SLEEP_ENV = "DEPLOYBENCH_FAKE_PROFILE_SLEEP_S"


def _seed(config: DeployConfig, salt: str) -> int:
    digest = hashlib.sha256(f"{config.key()}|{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def fake_profile(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
    """Deterministic synthetic measurement of ``config`` (see module docstring)."""
    sleep_s = float(os.environ.get(SLEEP_ENV, "0") or 0)
    if sleep_s > 0:
        time.sleep(sleep_s)
    if config.backend == "torch_compile" and config.precision == "int8":
        return ProfileResult(config, "crash", crash_kind="unsupported",
                             crash_message="int8 is not supported by torch_compile (fake)")
    if config.model == "vit_b16" and config.batch_size >= 32:
        return ProfileResult(config, "crash", crash_kind="oom",
                             crash_message="out of memory (fake)")
    base = _MODEL_MS.get(config.model, 10.0) * config.batch_size
    base *= {"fp32": 1.0, "fp16": 1.3, "int8": 0.7}.get(config.precision, 1.0)
    base *= {"pytorch_eager": 1.0, "torch_compile": 0.8, "onnxruntime": 0.7}.get(
        config.backend, 1.0)
    base /= (config.threads or 2) ** 0.7
    rng = np.random.default_rng(_seed(config, str(settings.passes)))
    p50 = base * float(rng.lognormal(0.0, 0.1))
    memory = 50.0 + 20.0 * config.batch_size + (300.0 if config.model == "vit_b16" else 0.0)
    if settings.abort_factor is not None and settings.latency_cap_ms is not None:
        threshold = settings.abort_factor * settings.latency_cap_ms
        if p50 > threshold:
            return ProfileResult(config, "aborted", aborted_early=True,
                                 abort_threshold_ms=threshold, warmup_latency_ms=p50,
                                 peak_memory_mb=memory, accuracy=_ACCURACY.get(config.model),
                                 accuracy_source="model_card", device_executed="cpu")
    return ProfileResult(
        config, "ok",
        latency_p50_ms=p50, latency_p95_ms=p50 * 1.2, latency_p99_ms=p50 * 1.4,
        latency_mean_ms=p50 * 1.05, throughput_ips=1000.0 * config.batch_size / p50,
        peak_memory_mb=memory, memory_method="fake", device_executed="cpu",
        threads_intra=config.threads, accuracy=_ACCURACY.get(config.model),
        accuracy_source="model_card", warmup_latency_ms=p50, passes_timed=settings.passes,
        wall_s=sleep_s,
    )
