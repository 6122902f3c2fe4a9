"""The isolated measurement process: ``python -m deploybench.profiling._worker REQ RES``.

``REQ`` is a JSON request written by :func:`deploybench.profiling.profile`; the worker
writes a JSON result to ``RES`` (atomically). Python exceptions are caught and written
as classified crashes; native crashes, kills and hangs are classified by the parent
from the exit status. Progress markers go to stderr so a timeout shows the last phase.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import traceback
from typing import Any

from deploybench.deployment.models import ModelSpec
from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings
from deploybench.profiling.classify import classify_exception
from deploybench.profiling.provenance import host_provenance


def _phase(name: str) -> None:
    print(f"[deploybench-worker] phase: {name}", file=sys.stderr, flush=True)


def _write(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)


def _accuracy(
    result: ProfileResult, spec: ModelSpec, settings: ProfileSettings, prepared: Any,
    card: float | None, categories: list[str] | None,
) -> None:
    """Fill accuracy fields: measured when weights and data exist, else the model card."""
    from deploybench.profiling import accuracy as acc_mod

    card_note = (
        f"model-card ImageNet-1k top-1 ({spec.source or 'user supplied'}); not measured on "
        "this machine, so precision effects (fp16/int8) on accuracy are NOT reflected"
    )
    if prepared.weights_loaded and settings.data_dir:
        if categories:
            acc_mod.verify_mapping(categories)
        _phase("accuracy")
        samples = acc_mod.stratified_sample(
            settings.data_dir, settings.accuracy_samples, settings.seed
        )
        result.accuracy = acc_mod.top1_accuracy(
            prepared.predict, samples, result.config.batch_size, settings.image_size,
            pad_to_batch=prepared.static_batch,
        )
        result.accuracy_source = "measured"
        result.accuracy_note = (
            f"top-1 on {len(samples)} stratified ImageNette images (WNID -> ImageNet-1k index), "
            f"with this backend and precision; weights {os.path.basename(prepared.weights_loaded)}"
        )
        return
    result.accuracy = card
    result.accuracy_source = spec.accuracy_source if card is not None else None
    missing = "no pretrained weights on disk" if not prepared.weights_loaded else "no data_dir"
    result.accuracy_note = f"{card_note} [{missing}]"


def measure(req: dict[str, Any]) -> ProfileResult:
    """Build, warm up (with the early-abort rule), time and measure one configuration."""
    from deploybench.profiling import backends, stats
    from deploybench.profiling.memory import NvmlProcessMemory, PeakRSSSampler

    config = DeployConfig.from_dict(req["config"])
    settings = ProfileSettings.from_dict(req["settings"])
    spec = ModelSpec.from_dict(req["model"])
    result = ProfileResult(config=config, status="crash")
    result.provenance = host_provenance()
    _phase("import")
    if config.backend == "onnxruntime":
        import onnxruntime  # noqa: F401  (import before the memory baseline)
    else:
        import torch
    ort_cuda = config.backend == "onnxruntime" and settings.device == "cuda"
    sampler = PeakRSSSampler(gpu=NvmlProcessMemory() if ort_cuda else None)
    result.memory_method = "rss_above_post_import_baseline (psutil 5 ms sampler + ru_maxrss)"
    sampler.start()
    try:
        _phase("build")
        t_build = time.perf_counter()
        if config.backend == "onnxruntime":
            meta = req["onnx_meta"]
            prepared = backends.prepare_ort(config, settings, req["onnx_path"], meta)
            card, categories = meta.get("model_card_accuracy"), meta.get("categories")
        else:
            prepared = backends.prepare_torch(config, settings, spec)
            card, categories = backends.model_card(spec)
        result.device_executed = prepared.device_executed
        result.quantized = prepared.quantized
        result.threads_intra = prepared.threads_intra
        result.threads_inter = prepared.threads_inter
        result.provenance.update(prepared.info)
        result.provenance["device_requested"] = settings.device
        result.provenance["input"] = "random normal tensor of shape (batch, 3, H, W)"
        _phase("first call (compilation / lazy initialisation, untimed)")
        t0 = time.perf_counter()
        prepared.run()
        result.provenance["build_s"] = t0 - t_build
        result.provenance["first_call_ms"] = (time.perf_counter() - t0) * 1000.0
        cuda = prepared.device_executed.startswith("cuda")
        if cuda:
            import torch

            result.provenance["gpu_name"] = torch.cuda.get_device_name(0)
            torch.cuda.reset_peak_memory_stats()
        threshold = stats.abort_threshold(settings.latency_cap_ms, settings.abort_factor)
        warm: list[float] = []
        aborted = False
        first_ms = result.provenance["first_call_ms"]
        if stats.first_call_rule_applies(
            config.backend, prepared.device_executed
        ) and stats.first_call_hopeless(first_ms, threshold):
            aborted = True
            result.provenance["abort_basis"] = "first_call"
            warm.append(first_ms)
        check_at = 0 if aborted else min(settings.abort_after, settings.warmup)
        _phase("warm-up")
        for i in range(0 if aborted else settings.warmup):
            t = time.perf_counter()
            prepared.run()
            warm.append((time.perf_counter() - t) * 1000.0)
            if i + 1 == check_at and stats.should_abort(warm, threshold):
                aborted = True
                break
        if warm:
            result.warmup_latency_ms = float(statistics.median(warm))
        result.abort_threshold_ms = threshold
        if aborted:
            result.status = "aborted"
            result.aborted_early = True
            result.provenance.setdefault("abort_basis", "warmup_median")
        else:
            _phase("timed passes")
            lat: list[float] = []
            for _ in range(settings.passes):
                t = time.perf_counter()
                prepared.run()
                lat.append((time.perf_counter() - t) * 1000.0)
            for k, v in stats.latency_summary(lat, config.batch_size).items():
                setattr(result, k, v)
            result.passes_timed = len(lat)
            result.status = "ok"
        sampler.stop()
        result.peak_memory_mb = sampler.peak_above_mb
        if cuda and config.backend != "onnxruntime":
            import torch

            result.peak_memory_mb = torch.cuda.max_memory_allocated() / 2**20
            result.memory_method = "torch.cuda.max_memory_allocated"
        elif cuda and sampler.gpu_peak_mb is not None:
            result.peak_memory_mb = sampler.gpu_peak_mb
            result.memory_method = "nvml process GPU memory (ORT CUDA); host RSS not included"
        elif cuda:
            result.memory_method = "host rss_above_baseline (ORT CUDA arena not included: no NVML)"
        result.provenance["rss_baseline_mb"] = sampler.baseline_mb
        _accuracy(result, spec, settings, prepared, card, categories)
    except BaseException as exc:
        sampler.stop()
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        traceback.print_exc()
        result.status = "crash"
        result.crash_kind = classify_exception(exc)
        result.crash_message = f"{type(exc).__name__}: {exc}"[:2000]
        result.peak_memory_mb = sampler.peak_above_mb
    return result


def export(req: dict[str, Any]) -> dict[str, Any]:
    """Export the ONNX file for a configuration into ``req['out_dir']``."""
    from deploybench.profiling import backends

    _phase("export")
    config = DeployConfig.from_dict(req["config"])
    settings = ProfileSettings.from_dict(req["settings"])
    spec = ModelSpec.from_dict(req["model"])
    try:
        meta = backends.export_onnx(config, settings, spec, req["out_dir"])
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        traceback.print_exc()
        return {
            "ok": False, "crash_kind": classify_exception(exc),
            "crash_message": f"onnx export: {type(exc).__name__}: {exc}"[:2000],
        }
    return {"ok": True, "meta": meta}


def main(argv: list[str]) -> int:
    """Entry point; always writes a result unless the process itself dies."""
    from deploybench._parent import exit_with_parent

    exit_with_parent()  # it runs in its own session: nothing else would stop it
    if len(argv) != 2:
        print("usage: python -m deploybench.profiling._worker REQ.json RES.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        req = json.load(fh)
    if req.get("mode") == "export":
        _write(argv[1], export(req))
    else:
        _write(argv[1], measure(req).to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
