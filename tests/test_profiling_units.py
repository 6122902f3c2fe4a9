"""Fast unit tests of the profiler's pure parts (no torch, no subprocess)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from deploybench.profiling import DeployConfig, ProfileResult, ProfileSettings
from deploybench.profiling import accuracy as acc
from deploybench.profiling._testing import make_imagefolder
from deploybench.profiling.classify import classify_exception, classify_returncode
from deploybench.profiling.memory import PeakRSSSampler
from deploybench.profiling.provenance import host_provenance
from deploybench.profiling.runner import validate
from deploybench.profiling.stats import (
    abort_threshold,
    first_call_hopeless,
    latency_summary,
    should_abort,
)


def test_types_round_trip_json() -> None:
    cfg = DeployConfig("resnet18", "onnxruntime", "int8", 4, 2)
    res = ProfileResult(cfg, "ok", latency_p95_ms=3.5, accuracy_note="x", stderr_tail="y")
    back = ProfileResult.from_dict(res.to_dict())
    assert back == res
    assert cfg.key() == "resnet18/onnxruntime/int8/bs4/t2"
    settings = ProfileSettings(passes=7, abort_after=2, cache_dir="/tmp/x")
    assert ProfileSettings.from_dict({**settings.to_dict(), "unknown": 1}) == settings


def test_latency_summary_matches_numpy() -> None:
    lat = list(np.linspace(1.0, 100.0, 200))
    s = latency_summary(lat, batch_size=4)
    assert s["latency_p95_ms"] == pytest.approx(np.percentile(lat, 95))
    assert s["latency_p50_ms"] < s["latency_p95_ms"] < s["latency_p99_ms"]
    assert s["throughput_ips"] == pytest.approx(4 * 1000.0 / np.mean(lat))
    with pytest.raises(ValueError):
        latency_summary([], 1)


def test_abort_rule_uses_median() -> None:
    thr = abort_threshold(10.0, 3.0)
    assert thr == 30.0
    assert should_abort([40.0, 41.0, 5.0], thr)
    assert not should_abort([100.0, 5.0, 6.0], thr)  # one noisy pass does not abort
    assert not should_abort([100.0], None)
    assert abort_threshold(None, 3.0) is None
    with pytest.raises(ValueError):
        abort_threshold(-1.0, 3.0)
    assert first_call_hopeless(121.0, 30.0) and not first_call_hopeless(119.0, 30.0)
    assert not first_call_hopeless(1e9, None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (MemoryError(), "oom"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "oom"),
        (NotImplementedError("x"), "unsupported"),
        (RuntimeError('"addmm_impl_cpu_" not implemented for \'Half\''), "unsupported"),
        (RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an "
                      "implementation for Conv(11) node"), "unsupported"),
        (ValueError("shape mismatch"), "error"),
    ],
)
def test_classify_exception(exc: BaseException, kind: str) -> None:
    assert classify_exception(exc) == kind


def test_classify_returncode() -> None:
    assert classify_returncode(-signal.SIGSEGV)[0] == "segfault"
    assert classify_returncode(-signal.SIGKILL)[0] == "oom"
    assert classify_returncode(-signal.SIGABRT)[0] == "error"
    assert classify_returncode(1) == ("error", "worker exited with status 1")


def test_memory_sampler_sees_an_allocation() -> None:
    sampler = PeakRSSSampler(interval_s=0.001)
    sampler.start()
    block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
    time.sleep(0.05)
    sampler.stop()
    del block
    assert sampler.peak_above_mb > 40.0


def test_nvml_memory_is_none_without_a_gpu() -> None:
    import importlib.util

    from deploybench.profiling.memory import NvmlProcessMemory

    gpu = NvmlProcessMemory()
    if importlib.util.find_spec("pynvml") is None:
        assert not gpu.available
    if not gpu.available:
        assert gpu.used_mb() is None
        sampler = PeakRSSSampler(gpu=gpu)
        sampler.start()
        sampler.stop()
        assert sampler.gpu_peak_mb is None


def test_provenance_fields() -> None:
    prov = host_provenance()
    assert prov["cpu_model"]
    assert prov["versions"]["numpy"] == np.__version__
    assert len(prov["hostname_sha256_12"]) == 12


def test_validate_rejects_bad_input(tmp_path: os.PathLike[str]) -> None:
    ok = DeployConfig("resnet18", "pytorch_eager", "fp32", 1, 1)
    validate(ok, ProfileSettings())
    for bad in (
        DeployConfig("resnet18", "tensorrt", "fp32", 1, 1),
        DeployConfig("resnet18", "pytorch_eager", "bf16", 1, 1),
        DeployConfig("resnet18", "pytorch_eager", "fp32", 0, 1),
        DeployConfig("resnet18", "pytorch_eager", "fp32", 1, 0),
    ):
        with pytest.raises(ValueError):
            validate(bad, ProfileSettings())
    with pytest.raises(ValueError, match="data_dir"):
        validate(ok, ProfileSettings(data_dir=os.path.join(tmp_path, "missing")))
    with pytest.raises(ValueError):
        validate(ok, ProfileSettings(passes=0))


# ------------------------------------------------------------------------- accuracy


def test_mapping_matches_known_imagenet_names() -> None:
    categories = [f"c{i}" for i in range(1000)]
    for index, name in acc.IMAGENETTE_CLASSES.values():
        categories[index] = name
    acc.verify_mapping(categories)
    categories[217] = "English setter"
    with pytest.raises(ValueError, match="217"):
        acc.verify_mapping(categories)


def test_stratified_sample_balances_classes(tmp_path: os.PathLike[str]) -> None:
    root = str(tmp_path)
    make_imagefolder(root, {"n01440764": 6, "n02102040": 6, "n03888605": 2})
    samples = acc.stratified_sample(root, 9, seed=1)
    labels = [y for _, y in samples]
    assert len(samples) == 8  # parachute has only 2 of its quota of 3
    assert labels.count(0) == 3 and labels.count(217) == 3 and labels.count(701) == 2
    assert acc.stratified_sample(root, 9, seed=1) == samples


def test_constant_predictor_accuracy_equals_class_share(tmp_path: os.PathLike[str]) -> None:
    root = str(tmp_path)
    make_imagefolder(root, {"n01440764": 3, "n02102040": 5, "n03000684": 2})
    samples = acc.stratified_sample(root, 100)
    assert len(samples) == 10

    def predict(batch: np.ndarray) -> np.ndarray:
        assert batch.shape[1:] == (3, 224, 224) and batch.dtype == np.float32
        logits = np.zeros((len(batch), 1000), dtype=np.float32)
        logits[:, 217] = 1.0  # always "English springer"
        return logits

    assert acc.top1_accuracy(predict, samples, batch_size=4) == pytest.approx(0.5)
    padded = acc.top1_accuracy(predict, samples, batch_size=4, pad_to_batch=True)
    assert padded == pytest.approx(0.5)


def test_missing_dataset_is_an_error(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(FileNotFoundError):
        acc.resolve_split(os.path.join(tmp_path, "nope"))
    os.makedirs(os.path.join(tmp_path, "val", "cats"))
    with pytest.raises(FileNotFoundError, match="WNID"):
        acc.resolve_split(str(tmp_path))
