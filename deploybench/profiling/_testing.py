"""Test-only models that crash, hang, exhaust memory or run slowly on purpose.

They resolve only when the environment variable ``DEPLOYBENCH_TEST_HOOKS`` is ``"1"``
(the test suite sets it); otherwise their names are unknown models. They let the tests
exercise every crash classification of the real subprocess machinery quickly.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

ENV_VAR = "DEPLOYBENCH_TEST_HOOKS"

HOOK_MODELS: dict[str, str] = {
    "_test_tiny": "build_tiny",
    "_test_slow": "build_slow",
    "_test_segfault": "build_segfault",
    "_test_hang": "build_hang",
    "_test_alloc": "build_alloc",
    "_test_memerror": "build_memerror",
    "_test_unsupported": "build_unsupported",
}


def hooks_enabled() -> bool:
    """True when the test switch is set in the environment."""
    return os.environ.get(ENV_VAR) == "1"


def _require() -> None:
    if not hooks_enabled():
        raise RuntimeError(f"test hook models need {ENV_VAR}=1")


def build_tiny() -> Any:
    """A 2-layer CNN + Linear head with 1000 outputs (small, quantizable, exportable)."""
    _require()
    import torch
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=4, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * 16, 1000),
    ).to(torch.float32)


def build_slow() -> Any:
    """A model whose forward pass sleeps 60 ms (deterministic early-abort tests)."""
    _require()
    from torch import nn

    class _Slow(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(3, 1000)

        def forward(self, x: Any) -> Any:
            time.sleep(0.06)
            return self.head(x.mean(dim=(2, 3)))

    return _Slow()


def build_segfault() -> Any:
    """Kills its own process with SIGSEGV (as a native crash would)."""
    _require()
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(5)
    raise AssertionError("unreachable")


def build_hang() -> Any:
    """Never returns."""
    _require()
    while True:
        time.sleep(1)


def build_alloc() -> Any:
    """Allocates and touches memory in 64 MB steps up to 6 GB, then waits to be killed."""
    _require()
    blocks = []
    for _ in range(96):
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"\x01" * len(block[::4096])
        blocks.append(block)
        time.sleep(0.02)
    time.sleep(60)
    raise AssertionError("the memory watchdog did not fire")


def build_memerror() -> Any:
    """Raises MemoryError like a failed large allocation."""
    _require()
    raise MemoryError("test hook: cannot allocate")


def build_unsupported() -> Any:
    """Raises the kind of error a missing kernel produces."""
    _require()
    raise NotImplementedError('"slow_conv2d_cpu" not implemented for \'Half\' (test hook)')


def make_imagefolder(root: str, per_class: dict[str, int], size: int = 40, seed: int = 0) -> None:
    """Write small solid-colour JPEGs into ``root/val/<wnid>/`` (ImageNette layout).

    Test data only: the images carry no class information.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for wnid, n in per_class.items():
        folder = os.path.join(root, "val", wnid)
        os.makedirs(folder, exist_ok=True)
        for i in range(n):
            colour = tuple(int(c) for c in rng.integers(0, 255, size=3))
            Image.new("RGB", (size + i, size), colour).save(os.path.join(folder, f"img{i}.JPEG"))
