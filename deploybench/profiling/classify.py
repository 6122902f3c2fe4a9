"""Turn a worker's exception or exit status into a crash kind.

Kinds: ``oom`` (memory exhausted: MemoryError, allocator "out of memory", SIGKILL from
the kernel's OOM killer, or our own memory watchdog), ``segfault`` (SIGSEGV, SIGBUS,
SIGILL, SIGFPE), ``timeout`` (the watchdog killed a hung worker), ``unsupported`` (a
kernel or operator that does not exist for this backend/precision/device) and
``error`` (anything else).
"""

from __future__ import annotations

import signal

from deploybench.profiling._types import CrashKind

_OOM_PATTERNS = ("out of memory", "std::bad_alloc", "cannot allocate memory", "failed to allocate")
_UNSUPPORTED_PATTERNS = (
    "not implemented for",
    "not_implemented",
    "could not find an implementation",
    "not supported",
    "unsupported",
    "does not support",
    "no kernel",
    "is not implemented",
)
_SEGFAULT_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}


def classify_exception(exc: BaseException) -> CrashKind:
    """Crash kind of an exception raised while building or running a configuration."""
    declared = getattr(exc, "crash_kind", None)
    if declared in ("oom", "segfault", "timeout", "unsupported", "error"):
        return declared  # type: ignore[no-any-return]
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "oom"
    text = f"{type(exc).__name__}: {exc}".lower()
    if any(p in text for p in _OOM_PATTERNS):
        return "oom"
    if isinstance(exc, NotImplementedError) or any(p in text for p in _UNSUPPORTED_PATTERNS):
        return "unsupported"
    return "error"


def classify_returncode(returncode: int) -> tuple[CrashKind, str]:
    """Crash kind and message for a worker that died without writing a result."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return "error", f"worker killed by unknown signal {-returncode}"
        if sig in _SEGFAULT_SIGNALS:
            return "segfault", f"worker died with {sig.name} (native crash)"
        if sig == signal.SIGKILL:
            return "oom", "worker killed by SIGKILL (most likely the kernel OOM killer)"
        return "error", f"worker died with {sig.name}"
    if returncode == 0:
        return "error", "worker exited without writing a result"
    return "error", f"worker exited with status {returncode}"
