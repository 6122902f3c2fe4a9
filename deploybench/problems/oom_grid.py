"""OOM grid: an integer, log-scale training space with an out-of-memory crash boundary.

Parameters: ``batch_size`` log-int [1, 256], ``width`` log-int [16, 1024], ``depth`` int
[2, 24] step 2 and ``seq_len`` int [128, 1024] step 128 (about 2.3 M configurations).

Analytic models (a transformer-like training step on an 8 GB accelerator):

* parameters ``P = 12 depth width^2`` (millions: ``P / 1e6``);
* memory ``GB = 16 P / 1e9 + batch seq width depth * 136 bytes / 1e9`` (weights, gradients
  and Adam state plus activations at 136 bytes per token-channel-layer); **crash** (OOM) above 8 GB;
* step time ``ms = 6 P batch seq / 50e12 * 1e3 + 5`` (50 TFLOP/s and 5 ms launch overhead);
  constraint ``step_ms / 12 - 1 <= 0``.

Maximise ``0.25 log10(P) + 0.05 log2(seq / 128) - 0.02 (log2 batch - 5)^2`` (bigger models and
longer context help; a batch far from 32 hurts). The space is finite, so the oracle is exact
enumeration (vectorised over batch x width for every depth x seq_len).
"""

from __future__ import annotations

import math

import numpy as np

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

MEMORY_LIMIT_GB = 8.0
STEP_CAP_MS = 12.0


def _params(depth: np.ndarray | int, width: np.ndarray | int) -> np.ndarray | float:
    return 12.0 * depth * np.asarray(width, dtype=float) ** 2


def _memory_gb(
    batch: np.ndarray | int, width: np.ndarray | int, depth: int, seq: int
) -> np.ndarray:
    p = _params(depth, width)
    return np.asarray(
        16.0 * p / 1e9 + np.asarray(batch, dtype=float) * seq * width * depth * 136.0 / 1e9
    )


def _step_ms(batch: np.ndarray | int, width: np.ndarray | int, depth: int, seq: int) -> np.ndarray:
    p = _params(depth, width)
    return np.asarray(6.0 * p * np.asarray(batch, dtype=float) * seq / 50e12 * 1e3 + 5.0)


def _score(batch: np.ndarray | int, width: np.ndarray | int, depth: int, seq: int) -> np.ndarray:
    p = _params(depth, width)
    log_batch = np.log2(np.asarray(batch, dtype=float))
    return np.asarray(
        0.25 * np.log10(p) + 0.05 * math.log2(seq / 128) - 0.02 * (log_batch - 5.0) ** 2
    )


class OomGrid(SyntheticProblem):
    """OOM grid (maximise; discrete, exact oracle)."""

    name = "oom_grid"
    direction = "maximize"
    constraint_keys = ("step_time",)
    discrete = True

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        batch = space.int("batch_size", 1, 256, log=True)
        width = space.int("width", 16, 1024, log=True)
        depth = space.int("depth", 2, 24, step=2)
        seq = space.int("seq_len", 128, 1024, step=128)
        memory = float(_memory_gb(batch, width, depth, seq))
        if memory > MEMORY_LIMIT_GB:
            return crash(f"out of memory: {memory:.1f} GB > {MEMORY_LIMIT_GB:g} GB")
        step = float(_step_ms(batch, width, depth, seq))
        return Outcome(
            float(_score(batch, width, depth, seq)), {"step_time": step / STEP_CAP_MS - 1.0}
        )

    def _compute_oracle(self) -> float:
        batch = np.arange(1, 257)[:, None]
        width = np.arange(16, 1025)[None, :]
        best = -math.inf
        for depth in range(2, 25, 2):
            for seq in range(128, 1025, 128):
                ok = (_memory_gb(batch, width, depth, seq) <= MEMORY_LIMIT_GB) & (
                    _step_ms(batch, width, depth, seq) <= STEP_CAP_MS
                )
                if ok.any():
                    best = max(
                        best, float(np.max(np.where(ok, _score(batch, width, depth, seq), -np.inf)))
                    )
        return best
