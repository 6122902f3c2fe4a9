"""Where and with what software a measurement was taken."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import socket
from typing import Any

_PACKAGES = ("torch", "torchvision", "onnxruntime", "onnx", "numpy", "optuna")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that influence a measurement."""
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def host_provenance() -> dict[str, Any]:
    """Host facts that do not need torch (the worker adds device and thread facts)."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hostname_sha256_12": host,
        "versions": package_versions(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
