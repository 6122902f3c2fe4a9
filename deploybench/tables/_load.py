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
