"""The real isolated profiler: backends, crash classification, abort, memory, accuracy.

Each measurement starts a fresh worker process that imports torch (a few seconds),
so models are tiny and pass counts small.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from deploybench.deployment.models import ModelRegistry, register_model
from deploybench.profiling import DeployConfig, ProfileSettings, profile
from deploybench.profiling._testing import ENV_VAR, make_imagefolder

pytestmark = pytest.mark.torch

FAST = ProfileSettings(warmup=2, passes=5, timeout_s=120.0)


@pytest.fixture(autouse=True)
def _hooks(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv(ENV_VAR, "1")
    monkeypatch.setenv("DEPLOYBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "dbcache"))


def _cfg(model: str, backend: str = "pytorch_eager", precision: str = "fp32", bs: int = 1,
         threads: int | None = 1) -> DeployConfig:
    t = None if backend == "torch_compile" else threads
    return DeployConfig(model, backend, precision, bs, t)


@pytest.mark.parametrize(
    ("backend", "precision"),
    [
        ("pytorch_eager", "fp32"), ("pytorch_eager", "fp16"), ("pytorch_eager", "int8"),
        ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8"),
    ],
)
def test_backend_precision_on_cpu(backend: str, precision: str) -> None:
    r = profile(_cfg("_test_tiny", backend, precision), FAST)
    if r.status == "crash":
        # A missing CPU kernel is a legitimate, classified outcome; anything else is a bug.
        assert r.crash_kind == "unsupported", (r.crash_kind, r.crash_message, r.stderr_tail)
        return
    assert r.status == "ok", r.crash_message
    assert r.passes_timed == 5
    assert r.latency_p50_ms is not None and r.latency_p95_ms is not None
    assert 0 < r.latency_p50_ms <= r.latency_p95_ms <= (r.latency_p99_ms or 0)
    assert r.throughput_ips and r.throughput_ips > 0
    assert r.peak_memory_mb is not None and r.peak_memory_mb > 0
    assert r.memory_method and "rss" in r.memory_method
    assert r.device_executed == "cpu"
    assert r.threads_intra == 1
    assert r.accuracy_source == "model_card" and r.accuracy_note
    assert r.provenance["cpu_model"] and r.provenance["versions"]["torch"]
    if precision == "int8":
        assert r.quantized is not None
        if backend == "pytorch_eager":
            assert r.quantized.startswith("Linear only (dynamic): 1 of 1")
        else:
            assert "MatMulInteger" in r.quantized or "ConvInteger" in r.quantized
    else:
        assert r.quantized is None
    if backend == "onnxruntime":
        assert r.provenance["ort_intra_op_num_threads"] == 1
        assert r.provenance["ort_providers"] == ["CPUExecutionProvider"]


def test_int8_runs_on_cpu_even_when_cuda_requested() -> None:
    import torch

    settings = ProfileSettings(device="cuda", warmup=1, passes=3, timeout_s=120.0)
    r = profile(_cfg("_test_tiny", precision="int8"), settings)
    assert r.status == "ok", r.crash_message
    assert r.device_executed == "cpu"
    assert r.provenance["device_requested"] == "cuda"
    fp32 = profile(_cfg("_test_tiny"), settings)
    if torch.cuda.is_available():
        assert fp32.device_executed == "cuda"
    else:
        assert fp32.status == "crash" and fp32.crash_kind == "unsupported"


@pytest.mark.parametrize(
    ("model", "kind", "settings"),
    [
        ("_test_segfault", "segfault", FAST),
        ("_test_hang", "timeout", ProfileSettings(timeout_s=8.0)),
        ("_test_alloc", "oom", ProfileSettings(timeout_s=60.0, memory_limit_mb=1200.0)),
        ("_test_memerror", "oom", FAST),
        ("_test_unsupported", "unsupported", FAST),
    ],
)
def test_crashes_are_classified(model: str, kind: str, settings: ProfileSettings) -> None:
    r = profile(_cfg(model), settings)
    assert r.status == "crash"
    assert r.crash_kind == kind, (r.crash_message, r.stderr_tail)
    assert r.crash_message
    assert r.wall_s is not None and r.wall_s < settings.timeout_s + 10


def test_timeout_reports_last_phase() -> None:
    r = profile(_cfg("_test_hang"), ProfileSettings(timeout_s=8.0))
    assert r.crash_kind == "timeout"
    assert r.stderr_tail is not None and "phase: build" in r.stderr_tail


def test_early_abort_on_slow_warmup() -> None:
    # each pass sleeps 60 ms; cap 10 ms x k=3 -> 30 ms threshold (first call < 4 x 30 ms)
    settings = ProfileSettings(warmup=10, passes=50, latency_cap_ms=10.0, abort_factor=3.0,
                               abort_after=3, timeout_s=120.0)
    r = profile(_cfg("_test_slow"), settings)
    assert r.status == "aborted" and r.aborted_early
    assert r.provenance["abort_basis"] == "warmup_median"
    assert r.abort_threshold_ms == pytest.approx(30.0)
    assert r.warmup_latency_ms is not None and r.warmup_latency_ms >= 55.0
    assert r.passes_timed == 0 and r.latency_p95_ms is None
    assert r.peak_memory_mb is not None and r.peak_memory_mb > 0
    not_aborted = profile(_cfg("_test_slow"), ProfileSettings(
        warmup=3, passes=3, latency_cap_ms=500.0, abort_factor=3.0, timeout_s=120.0))
    assert not_aborted.status == "ok" and not not_aborted.aborted_early
    assert not_aborted.latency_p50_ms is not None and not_aborted.latency_p50_ms >= 55.0


def test_hopeless_first_call_aborts_before_warmup() -> None:
    # first call >= 60 ms > 4 x (3 x 1 ms): abandoned without warm-up
    settings = ProfileSettings(warmup=10, passes=50, latency_cap_ms=1.0, abort_factor=3.0,
                               timeout_s=120.0)
    r = profile(_cfg("_test_slow"), settings)
    assert r.status == "aborted" and r.provenance["abort_basis"] == "first_call"
    assert r.warmup_latency_ms == pytest.approx(r.provenance["first_call_ms"])
    assert r.passes_timed == 0


def test_unknown_model_raises_not_crashes() -> None:
    with pytest.raises(KeyError, match="unknown model"):
        profile(_cfg("no_such_model"), FAST)


def test_hook_models_need_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(KeyError):
        profile(_cfg("_test_segfault"), FAST)


# --------------------------------------------------------------- measured accuracy


def build_constant_model() -> Any:
    """A model whose logits are its bias (the checkpoint decides the predicted class)."""
    import torch
    from torch import nn

    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(1000))

        def forward(self, x: Any) -> Any:
            return self.bias.expand(x.shape[0], 1000) + 0.0 * x.mean()

    return Constant()


def test_measured_accuracy_with_checkpoint_and_data(tmp_path: os.PathLike[str]) -> None:
    import torch

    data = os.path.join(tmp_path, "data")
    make_imagefolder(data, {"n01440764": 3, "n02102040": 2, "n03888605": 3})
    state = {"bias": torch.zeros(1000)}
    state["bias"][701] = 5.0  # always "parachute"
    ckpt = os.path.join(tmp_path, "const.pth")
    torch.save(state, ckpt)
    registry = ModelRegistry()
    register_model("const", build_constant_model, model_card_accuracy=0.9, source="test",
                   checkpoint=ckpt, registry=registry)
    settings = ProfileSettings(warmup=1, passes=2, data_dir=data, accuracy_samples=30)
    for backend in ("pytorch_eager", "onnxruntime"):
        r = profile(DeployConfig("const", backend, "fp32", 2, 1), settings, registry=registry)
        assert r.status == "ok", (r.crash_message, r.stderr_tail)
        assert r.accuracy_source == "measured"
        assert r.accuracy == pytest.approx(3 / 8)
    no_data = profile(DeployConfig("const", "pytorch_eager", "fp32", 1, 1),
                      ProfileSettings(warmup=1, passes=2), registry=registry)
    assert no_data.accuracy == pytest.approx(0.9) and no_data.accuracy_source == "model_card"


def test_torchvision_categories_match_imagenette_mapping() -> None:
    from torchvision.models import ResNet18_Weights

    from deploybench.profiling.accuracy import verify_mapping

    verify_mapping(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def test_real_vit_ti16_is_the_tiny_architecture() -> None:
    from deploybench.deployment.models import build_vit_ti16

    model = build_vit_ti16()
    n_params = sum(int(np.prod(p.shape)) for p in model.parameters())
    assert 5.5e6 < n_params < 6.0e6  # ViT-Ti/16 has ~5.7M parameters


@pytest.mark.slow
def test_torch_compile_tiny() -> None:
    r = profile(_cfg("_test_tiny", "torch_compile"), ProfileSettings(warmup=2, passes=5,
                                                                     timeout_s=400.0))
    assert r.status == "ok", (r.crash_kind, r.crash_message, r.stderr_tail)
    assert r.config.threads is None and r.threads_intra is not None and r.threads_intra >= 1
    assert r.provenance["torch_compile_backend"] == "inductor"
    assert r.provenance["first_call_ms"] > r.latency_p50_ms  # compilation is excluded


def test_first_call_rule_not_on_cuda_or_compile() -> None:
    # the first CUDA call pays for cuDNN/cuBLAS initialisation (2.4 s vs 5 ms steady on an
    # H200), so only the warm-up median may abort there
    from deploybench.profiling import stats

    assert stats.first_call_rule_applies("pytorch_eager", "cpu")
    assert stats.first_call_rule_applies("onnxruntime", "cpu")
    assert not stats.first_call_rule_applies("torch_compile", "cpu")
    assert not stats.first_call_rule_applies("pytorch_eager", "cuda")
    assert not stats.first_call_rule_applies("onnxruntime", "cuda+cpu")


def test_slow_first_cuda_call_does_not_abort() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    # threshold 3 ms: a first CUDA call over 12 ms (library initialisation) must not abort
    settings = ProfileSettings(device="cuda", warmup=3, passes=5, latency_cap_ms=1.0,
                               abort_factor=3.0, timeout_s=120.0)
    r = profile(_cfg("_test_tiny"), settings)
    assert r.status == "ok", (r.crash_message, r.provenance.get("abort_basis"))
    assert r.device_executed == "cuda"
    assert r.memory_method == "torch.cuda.max_memory_allocated"
    assert r.peak_memory_mb is not None and r.peak_memory_mb > 0
