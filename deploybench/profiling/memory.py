"""Peak resident memory of the worker above its post-import baseline."""

from __future__ import annotations

import resource
import sys
import threading

import psutil


def _ru_maxrss_mb() -> float:
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes vs KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


class PeakRSSSampler:
    """Samples this process's RSS in a background thread.

    Usage: create after the heavy imports (that fixes the baseline), ``start()`` before
    building the model, ``stop()`` after the timed passes, then read ``peak_above_mb``.
    The result is the larger of the sampled peak and the ``ru_maxrss`` increase, so a
    short spike between two samples is still caught when it sets a new process maximum.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
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
