"""How busy the rest of the machine was while one measurement ran.

Latency measured on a shared machine is inflated by other jobs. The recorder stores,
per repeat, ``other_load_cores``: the average number of CPU cores kept busy by
processes *other than the recorder and its profiler subprocesses* during the
measurement, computed as

    (busy CPU time of the whole machine - CPU time of this process and its
     waited-for children) / wall time

from ``/proc/stat`` and :func:`os.times`. It is ``None`` where ``/proc/stat`` does not
exist (non-Linux). Values near 0 mean a quiet machine; on a 2-core machine a value
of 1 means another job held a whole core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

_PROC_STAT = "/proc/stat"


def _machine_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores), or None."""
    try:
        with open(_PROC_STAT, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 5:
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    # guest time is already included in user/nice: count the first 8 fields only.
    busy = sum(ticks[:8]) - idle
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class LoadMeter:
    """Start with :meth:`start`, read :meth:`other_load_cores` after the measurement."""

    _t0: float = 0.0
    _busy0: float | None = None
    _own0: float = 0.0

    def start(self) -> LoadMeter:
        self._t0 = time.monotonic()
        self._busy0 = _machine_busy_s()
        self._own0 = _own_cpu_s()
        return self

    def other_load_cores(self) -> float | None:
        """Average cores used by other processes since :meth:`start` (>= 0), or None."""
        wall = time.monotonic() - self._t0
        busy1 = _machine_busy_s()
        if self._busy0 is None or busy1 is None or wall <= 0.05:
            return None
        other = (busy1 - self._busy0) - (_own_cpu_s() - self._own0)
        return round(max(0.0, other / wall), 3)


def probe_other_load(seconds: float) -> float | None:
    """Sleep ``seconds`` and return the other processes' average load meanwhile."""
    meter = LoadMeter().start()
    time.sleep(seconds)
    return meter.other_load_cores()


@dataclass(frozen=True)
class QuietPolicy:
    """Measure only on a quiet machine (``deploybench record --max-other-load``).

    Before each measurement the recorder samples the machine for ``probe_s`` seconds and
    waits (re-sampling) while other processes use more than ``max_other_load`` cores, at
    most ``max_wait_s`` seconds in all. A measurement during which the other load still
    exceeded the limit is discarded and taken again, at most ``retries`` times; the last
    attempt is kept whatever its load (its ``other_load_cores`` says so), so a busy machine
    slows the recording down but never stalls it.
    """

    max_other_load: float
    retries: int = 3
    probe_s: float = 2.0
    max_wait_s: float = 600.0

    def __post_init__(self) -> None:
        if not self.max_other_load >= 0:
            raise ValueError(f"max_other_load must be >= 0 cores, got {self.max_other_load}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if not self.probe_s > 0:
            raise ValueError(f"probe_s must be > 0, got {self.probe_s}")
        if not self.max_wait_s >= 0:
            raise ValueError(f"max_wait_s must be >= 0, got {self.max_wait_s}")

    def is_quiet(self, load: float | None) -> bool:
        """Unknown load (no ``/proc/stat``) counts as quiet: nothing to wait for."""
        return load is None or load <= self.max_other_load

    def wait(self, probe: Callable[[float], float | None] = probe_other_load,
             on_wait: Callable[[float], None] | None = None) -> bool:
        """Block until the machine is quiet; False if ``max_wait_s`` ran out first."""
        waited = 0.0
        while True:
            load = probe(self.probe_s)
            if self.is_quiet(load):
                return True
            waited += self.probe_s
            if waited >= self.max_wait_s:
                return False
            if on_wait is not None and load is not None:
                on_wait(load)
