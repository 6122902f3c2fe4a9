"""Latency statistics and the early-abort rule (pure functions, no torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def latency_summary(latencies_ms: Sequence[float], batch_size: int) -> dict[str, float]:
    """p50/p95/p99/mean latency per batch (ms) and throughput (images/s).

    Percentiles use numpy's default linear interpolation between order statistics.
    """
    if len(latencies_ms) == 0:
        raise ValueError("no latencies to summarise")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    arr = np.asarray(latencies_ms, dtype=float)
    p50, p95, p99 = np.percentile(arr, [50.0, 95.0, 99.0])
    mean = float(arr.mean())
    return {
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
        "latency_p99_ms": float(p99),
        "latency_mean_ms": mean,
        "throughput_ips": float(batch_size * 1000.0 / mean),
    }


def abort_threshold(cap_ms: float | None, factor: float | None) -> float | None:
    """``factor x cap`` or None when either is missing (the rule is then off)."""
    if cap_ms is None or factor is None:
        return None
    if cap_ms <= 0 or factor <= 0:
        raise ValueError(f"latency cap and abort factor must be > 0, got {cap_ms}, {factor}")
    return float(cap_ms) * float(factor)


def should_abort(warmup_ms: Sequence[float], threshold_ms: float | None) -> bool:
    """True when the median warm-up latency so far exceeds the threshold.

    The median (not the mean or the first pass) is used so that one slow pass caused
    by a noisy neighbour cannot trigger an abort on its own.
    """
    if threshold_ms is None or len(warmup_ms) == 0:
        return False
    return float(np.median(np.asarray(warmup_ms, dtype=float))) > threshold_ms


#: The untimed first call may be this many times slower than ``abort_factor x cap``
#: before the measurement is abandoned without warm-up (only where
#: :func:`first_call_rule_applies`: not for ``torch_compile`` or CUDA). The first call
#: includes lazy initialisation; on the development machine's CPU it was up to ~6x a
#: steady pass (resnet18 eager: 113 ms vs 20 ms), so with k = 3 a first call above 12x
#: the cap cannot belong to a feasible configuration.
FIRST_CALL_MARGIN = 4.0


def first_call_rule_applies(backend: str, device_executed: str | None) -> bool:
    """Whether :func:`first_call_hopeless` may abandon a measurement before warm-up.

    Not for ``torch_compile`` (its first call is compilation) and not on CUDA, where the
    first call also pays for cuDNN/cuBLAS initialisation and kernel loading: on an H200
    (``examples/gpu_check.sh``) eager efficientnet_b0 fp16 took 2.4 s for its first call
    at batch 1 and 4.0 s at batch 32, then about 5 ms per pass. The warm-up median rule
    still applies there.
    """
    return backend != "torch_compile" and not (device_executed or "").startswith("cuda")


def first_call_hopeless(first_call_ms: float, threshold_ms: float | None) -> bool:
    """True when the first call alone exceeds ``FIRST_CALL_MARGIN x threshold``."""
    if threshold_ms is None:
        return False
    return first_call_ms > FIRST_CALL_MARGIN * threshold_ms
