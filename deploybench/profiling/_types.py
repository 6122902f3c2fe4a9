"""Plain data types shared by the profiler, the recorder, the probe and the objective.

These are the contract between modules: every field is JSON-serialisable through
``to_dict`` / ``from_dict``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Status = Literal["ok", "crash", "aborted"]
CrashKind = Literal["oom", "segfault", "timeout", "unsupported", "error"]


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """One point of the deployment space.

    ``threads`` is None for backends that do not take a thread count
    (``torch_compile``).
    """

    model: str
    backend: str  # "pytorch_eager" | "torch_compile" | "onnxruntime"
    precision: str  # "fp32" | "fp16" | "int8"
    batch_size: int
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeployConfig:
        return cls(
            model=str(d["model"]),
            backend=str(d["backend"]),
            precision=str(d["precision"]),
            batch_size=int(d["batch_size"]),
            threads=None if d.get("threads") is None else int(d["threads"]),
        )

    def key(self) -> str:
        """Stable string identity, e.g. ``resnet18/onnxruntime/int8/bs4/t2``."""
        t = "-" if self.threads is None else str(self.threads)
        return f"{self.model}/{self.backend}/{self.precision}/bs{self.batch_size}/t{t}"


@dataclasses.dataclass(frozen=True)
class ProfileSettings:
    """How a configuration is measured."""

    device: str = "cpu"  # "cpu" | "cuda"
    warmup: int = 10
    passes: int = 200
    abort_factor: float | None = 3.0  # abort when warm-up median > k x cap (None: never)
    latency_cap_ms: float | None = None  # the cap the abort rule refers to
    timeout_s: float = 600.0
    memory_limit_mb: float | None = None  # limit on the worker's resident memory (watchdog)
    image_size: int = 224
    data_dir: str | None = None  # ImageFolder in ImageNette layout, for real accuracy
    accuracy_samples: int = 500
    weights_dir: str | None = None  # torch hub cache / checkpoints
    abort_after: int = 3  # warm-up passes after which the abort rule is checked
    seed: int = 0  # seeds random weights (when no checkpoint) and the random input tensor
    cache_dir: str | None = None  # exported ONNX files; default ~/.cache/deploybench

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProfileSettings:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass
class ProfileResult:
    """The outcome of one isolated measurement."""

    config: DeployConfig
    status: Status
    crash_kind: CrashKind | None = None
    crash_message: str | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_mean_ms: float | None = None
    throughput_ips: float | None = None  # images per second
    peak_memory_mb: float | None = None
    memory_method: str | None = None  # e.g. "rss_above_baseline", "cuda_allocator+nvml"
    device_executed: str | None = None  # where the model really ran, e.g. "cpu" for int8
    threads_intra: int | None = None
    threads_inter: int | None = None
    accuracy: float | None = None
    accuracy_source: str | None = None  # "measured" | "model_card" | "model_card_external"
    accuracy_note: str | None = None  # what the accuracy number does and does not cover
    quantized: str | None = None  # what was really quantized, e.g. "Linear only (dynamic)"
    aborted_early: bool = False
    abort_threshold_ms: float | None = None
    warmup_latency_ms: float | None = None
    passes_timed: int = 0
    wall_s: float | None = None
    stderr_tail: str | None = None  # last lines of the worker's stderr (crashes only)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["config"] = self.config.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProfileResult:
        d = dict(d)
        d["config"] = DeployConfig.from_dict(d["config"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
