"""``profile(config, settings)``: one isolated, classified measurement.

Every call starts fresh worker processes (``python -m deploybench.profiling._worker``)
in their own process group. The parent watches them: past ``settings.timeout_s`` the
whole group is killed (``timeout``); when the group's resident memory exceeds
``settings.memory_limit_mb`` it is killed too (``oom``). A worker that dies from a signal
is classified from its exit status. The caller always gets a :class:`ProfileResult`.

For ``onnxruntime`` the model is first exported by a separate worker into a cache
(``settings.cache_dir``, default ``~/.cache/deploybench/onnx``) so that the measuring
worker never holds the PyTorch model: its memory is the ONNX Runtime session's alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil

from deploybench._parent import PARENT_PID_ENV
from deploybench.deployment.models import ModelRegistry, ModelSpec, get_model_spec
from deploybench.profiling._types import CrashKind, DeployConfig, ProfileResult, ProfileSettings
from deploybench.profiling.classify import classify_returncode
from deploybench.profiling.provenance import host_provenance

BACKENDS: tuple[str, ...] = ("pytorch_eager", "torch_compile", "onnxruntime")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
THREADED_BACKENDS: tuple[str, ...] = ("pytorch_eager", "onnxruntime")


def uses_threads(backend: str, precision: str, device: str = "cpu") -> bool:
    """Whether a configuration's CPU thread count changes what is measured.

    Only ``pytorch_eager`` and ``onnxruntime`` take one (``torch_compile`` fixes its
    parallelism when it compiles), and on ``device="cuda"`` only ``int8``, which runs on
    the CPU (PyTorch's dynamic quantization has no CUDA kernels; ONNX Runtime falls back to
    the CPU for integer ops). A float configuration on the GPU measures the same whatever
    the CPU thread count, so searching over it would only repeat measurements.
    """
    return backend in THREADED_BACKENDS and (device != "cuda" or precision == "int8")


def cuda_available(timeout_s: float = 120.0) -> bool:
    """Whether a fresh Python process sees a CUDA device through torch.

    Asked in a subprocess, like every measurement, so that the caller never initialises
    CUDA itself; False when torch is missing or the probe fails.
    """
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)"
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


_POLL_S = 0.05
_STDERR_LINES = 15


def validate(config: DeployConfig, settings: ProfileSettings) -> None:
    """Reject malformed input with a ``ValueError`` (these are not crashes)."""
    if config.backend not in BACKENDS:
        raise ValueError(f"unknown backend {config.backend!r}; choose from {', '.join(BACKENDS)}")
    if config.precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {config.precision!r}; choose from {', '.join(PRECISIONS)}"
        )
    if config.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {config.batch_size}")
    if config.threads is not None and config.threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {config.threads}")
    if settings.device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {settings.device!r}")
    if settings.warmup < 0 or settings.passes < 1:
        raise ValueError("warmup must be >= 0 and passes >= 1")
    if settings.abort_after < 1:
        raise ValueError("abort_after must be >= 1")
    if settings.timeout_s <= 0:
        raise ValueError("timeout_s must be > 0")
    if settings.memory_limit_mb is not None and settings.memory_limit_mb <= 0:
        raise ValueError("memory_limit_mb must be > 0 or None")
    for name in ("latency_cap_ms", "abort_factor"):
        value = getattr(settings, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be > 0 or None, got {value}")
    if settings.data_dir is not None and not os.path.isdir(settings.data_dir):
        raise ValueError(f"data_dir {settings.data_dir!r} is not a directory")


@dataclasses.dataclass
class _Outcome:
    payload: dict[str, Any] | None
    crash_kind: CrashKind | None
    message: str | None
    stderr_tail: str
    peak_rss_mb: float


def _tree_rss_mb(proc: psutil.Process) -> float:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: str, lines: int = _STDERR_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:]).strip()
    except OSError:
        return ""


def _worker_env(spec: ModelSpec) -> dict[str, str]:
    env = dict(os.environ)
    env[PARENT_PID_ENV] = str(os.getpid())  # the worker exits when we die (no race)
    roots = [r for r in (spec.import_root,) if r]
    if roots:
        env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_worker(
    request: dict[str, Any], spec: ModelSpec, timeout_s: float, memory_limit_mb: float | None,
    workdir: str,
) -> _Outcome:
    """Run one worker under the timeout and memory watchdog; classify how it ended."""
    req_path = os.path.join(workdir, "request.json")
    res_path = os.path.join(workdir, "result.json")
    err_path = os.path.join(workdir, "stderr.txt")
    with open(req_path, "w", encoding="utf-8") as fh:
        json.dump(request, fh)
    if os.path.exists(res_path):
        os.remove(res_path)
    killed: tuple[CrashKind, str] | None = None
    peak = 0.0
    with open(err_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploybench.profiling._worker", req_path, res_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True, env=_worker_env(spec),
        )
        ps = psutil.Process(proc.pid)
        start = time.monotonic()
        try:
            while proc.poll() is None:
                rss = _tree_rss_mb(ps)
                peak = max(peak, rss)
                if memory_limit_mb is not None and rss > memory_limit_mb:
                    killed = ("oom", f"worker RSS {rss:.0f} MB exceeded memory_limit_mb "
                                     f"{memory_limit_mb:.0f} MB; killed")
                    _kill_group(proc.pid)
                    break
                if time.monotonic() - start > timeout_s:
                    killed = ("timeout", f"no result within timeout_s={timeout_s:g} s; killed")
                    _kill_group(proc.pid)
                    break
                time.sleep(_POLL_S)
        finally:
            if proc.poll() is None:
                _kill_group(proc.pid)
            proc.wait()
            _kill_group(proc.pid)  # stray grandchildren (e.g. inductor compile workers)
    tail = _tail(err_path)
    if killed is not None:
        return _Outcome(None, killed[0], killed[1], tail, peak)
    if os.path.exists(res_path):
        try:
            with open(res_path, encoding="utf-8") as fh:
                return _Outcome(json.load(fh), None, None, tail, peak)
        except (OSError, json.JSONDecodeError) as exc:
            return _Outcome(None, "error", f"unreadable worker result: {exc}", tail, peak)
    kind, msg = classify_returncode(proc.returncode)
    return _Outcome(None, kind, msg, tail, peak)


def default_cache_dir() -> str:
    """``$DEPLOYBENCH_CACHE`` or ``$XDG_CACHE_HOME/deploybench`` or ``~/.cache/deploybench``."""
    if os.environ.get("DEPLOYBENCH_CACHE"):
        return os.environ["DEPLOYBENCH_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deploybench")


def _onnx_key(config: DeployConfig, settings: ProfileSettings, spec: ModelSpec) -> str:
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    ident = {
        "model": spec.to_dict(), "precision": config.precision, "seed": settings.seed,
        "image_size": settings.image_size, "weights_dir": settings.weights_dir,
        "torch_home": os.environ.get("TORCH_HOME"), "xdg": os.environ.get("XDG_CACHE_HOME"),
        "torch": torch_version, "format": 1,
    }
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return f"{spec.name}-{config.precision}-{digest}"


def _ensure_onnx(
    config: DeployConfig, settings: ProfileSettings, spec: ModelSpec, workdir: str,
    timeout_s: float,
) -> tuple[str, dict[str, Any]] | _Outcome:
    cache = os.path.join(settings.cache_dir or default_cache_dir(), "onnx")
    final = os.path.join(cache, _onnx_key(config, settings, spec))
    meta_path = os.path.join(final, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            return os.path.join(final, "model.onnx"), dict(json.load(fh))
    os.makedirs(cache, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=cache)
    try:
        request = {
            "mode": "export", "config": config.to_dict(), "settings": settings.to_dict(),
            "model": spec.to_dict(), "out_dir": staging,
        }
        outcome = run_worker(request, spec, timeout_s, settings.memory_limit_mb, workdir)
        if outcome.payload is None or not outcome.payload.get("ok"):
            if outcome.payload is not None:
                outcome.crash_kind = outcome.payload["crash_kind"]
                outcome.message = outcome.payload["crash_message"]
                outcome.payload = None
            return outcome
        with contextlib.suppress(OSError):  # another process may have exported it first
            os.rename(staging, final)
        with open(meta_path, encoding="utf-8") as fh:
            return os.path.join(final, "model.onnx"), dict(json.load(fh))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _crash(config: DeployConfig, outcome: _Outcome) -> ProfileResult:
    prov = host_provenance()
    prov["worker_tree_peak_rss_mb"] = outcome.peak_rss_mb  # absolute RSS, parent's 50 ms view
    return ProfileResult(
        config=config, status="crash", crash_kind=outcome.crash_kind,
        crash_message=outcome.message, stderr_tail=outcome.stderr_tail or None, provenance=prov,
    )


def profile(
    config: DeployConfig, settings: ProfileSettings, *, registry: ModelRegistry | None = None
) -> ProfileResult:
    """Measure one configuration in isolated worker processes.

    Args:
        config: What to run.
        settings: How to measure (warm-up, passes, caps, limits, dataset, device).
        registry: Model registry to resolve ``config.model`` (default: process-wide).

    Returns:
        A :class:`ProfileResult` with ``status`` ``"ok"``, ``"aborted"`` (warm-up median
        above ``abort_factor x latency_cap_ms``) or ``"crash"`` (with ``crash_kind``).

    Raises:
        KeyError: unknown model. ValueError: malformed config or settings.
    """
    validate(config, settings)
    spec = get_model_spec(config.model, registry)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="deploybench-") as workdir:
        request: dict[str, Any] = {
            "mode": "measure", "config": config.to_dict(), "settings": settings.to_dict(),
            "model": spec.to_dict(),
        }
        if config.backend == "onnxruntime":
            got = _ensure_onnx(config, settings, spec, workdir, settings.timeout_s)
            if isinstance(got, _Outcome):
                result = _crash(config, got)
                result.wall_s = time.perf_counter() - start
                return result
            request["onnx_path"], request["onnx_meta"] = got
        remaining = max(1.0, settings.timeout_s - (time.perf_counter() - start))
        outcome = run_worker(request, spec, remaining, settings.memory_limit_mb, workdir)
    if outcome.payload is None:
        result = _crash(config, outcome)
    else:
        result = ProfileResult.from_dict(outcome.payload)
        if result.status == "crash":
            result.stderr_tail = outcome.stderr_tail or None
    result.wall_s = time.perf_counter() - start
    return result
