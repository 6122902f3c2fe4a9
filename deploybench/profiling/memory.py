"""Peak resident memory of the worker above its post-import baseline."""

from __future__ import annotations

import os
import resource
import sys
import threading
from typing import Any

import psutil


def _ru_maxrss_mb() -> float:
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes vs KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


class NvmlProcessMemory:
    """GPU memory of this process according to NVML (``nvidia-ml-py``), if available.

    Used for ONNX Runtime on CUDA, whose arena the torch allocator cannot see. Inside a
    container NVML may report host PIDs; then this process is not found and
    :meth:`used_mb` returns None.
    """

    def __init__(self, device_index: int = 0) -> None:
        self._nvml: Any = None
        self._handle: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
            self._nvml = pynvml
        except Exception:  # not installed, no driver, no device
            self._nvml = None

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def used_mb(self) -> float | None:
        """This process's GPU memory in MB, or None when NVML cannot tell."""
        if self._nvml is None:
            return None
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except Exception:
            return None
        for p in procs:
            if p.pid == os.getpid() and p.usedGpuMemory is not None:
                return float(p.usedGpuMemory) / 2**20
        return None


class PeakRSSSampler:
    """Samples this process's RSS in a background thread.

    Usage: create after the heavy imports (that fixes the baseline), ``start()`` before
    building the model, ``stop()`` after the timed passes, then read ``peak_above_mb``.
    The result is the larger of the sampled peak and the ``ru_maxrss`` increase, so a
    short spike between two samples is still caught when it sets a new process maximum.
    """

    def __init__(self, interval_s: float = 0.005, gpu: NvmlProcessMemory | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self._gpu = gpu
        self.gpu_peak_mb: float | None = None
        self._proc = psutil.Process()
        self._interval = interval_s
        self.baseline_mb = self._rss_mb()
        self._ru_base_mb = _ru_maxrss_mb()
        self._peak_mb = self.baseline_mb
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss_mb(self) -> float:
        return float(self._proc.memory_info().rss) / (1024.0 * 1024.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak_mb = max(self._peak_mb, self._rss_mb())
            if self._gpu is not None:
                used = self._gpu.used_mb()
                if used is not None:
                    self.gpu_peak_mb = max(self.gpu_peak_mb or 0.0, used)
            self._stop.wait(self._interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._peak_mb = max(self._peak_mb, self._rss_mb())

    @property
    def peak_above_mb(self) -> float:
        sampled = self._peak_mb - self.baseline_mb
        ru = _ru_maxrss_mb() - self._ru_base_mb
        return max(sampled, ru)
