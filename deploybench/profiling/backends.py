"""Build a runnable configuration inside the worker (imports torch / onnxruntime lazily).

* ``pytorch_eager``: the module in ``torch.inference_mode``.
* ``torch_compile``: ``torch.compile(module)`` with the default inductor backend; the
  first call (compilation) is excluded from warm-up and timing.
* ``onnxruntime``: an ONNX file exported beforehand by a separate worker
  (:func:`export_onnx`), run by an ``InferenceSession``.

Precision: ``fp16`` casts weights and input to half; ``int8`` is *dynamic* quantization:
in PyTorch ``torch.ao.quantization.quantize_dynamic`` quantizes ``nn.Linear`` layers only
and always executes on the CPU; in ONNX Runtime ``quantize_dynamic`` rewrites the ops it
supports (the worker records which, from the quantized graph).
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from deploybench.deployment.models import ModelSpec
from deploybench.profiling._types import DeployConfig, ProfileSettings


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this machine."""

    crash_kind = "unsupported"


@dataclasses.dataclass
class Prepared:
    """A configuration ready to be timed."""

    run: Callable[[], Any]  # one pass on the random input, synchronised
    predict: Callable[[np.ndarray], np.ndarray]  # logits for a float32 NCHW batch
    device_executed: str
    quantized: str | None
    threads_intra: int | None
    threads_inter: int | None
    static_batch: bool  # the predictor needs full batches (pad the last one)
    weights_loaded: str | None  # checkpoint file, or None for random weights
    info: dict[str, Any]


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build_model(spec: ModelSpec) -> Any:
    """Call the spec's builder (adding its import root to ``sys.path`` first)."""
    if spec.import_root and spec.import_root not in sys.path:
        sys.path.insert(0, spec.import_root)
    return _import_path(spec.builder)()


def model_card(spec: ModelSpec) -> tuple[float | None, list[str] | None]:
    """(top-1 fraction, ImageNet category names) from torchvision metadata or the spec."""
    if spec.weights:
        weights = _import_path(spec.weights)
        acc = float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]) / 100.0
        return acc, list(weights.meta.get("categories") or []) or None
    return spec.model_card_accuracy, None


def find_checkpoint(spec: ModelSpec, settings: ProfileSettings) -> str | None:
    """A pretrained state-dict already on disk, or None. Never downloads."""
    if spec.checkpoint:
        return spec.checkpoint if os.path.isfile(spec.checkpoint) else None
    candidates: list[str] = []
    filename = None
    if spec.weights:
        filename = os.path.basename(_import_path(spec.weights).url)
    if settings.weights_dir:
        if filename:
            candidates.append(os.path.join(settings.weights_dir, filename))
        candidates.append(os.path.join(settings.weights_dir, f"{spec.name}.pth"))
    if filename:
        import torch

        candidates.append(os.path.join(torch.hub.get_dir(), "checkpoints", filename))
    return next((c for c in candidates if os.path.isfile(c)), None)


def load_model(spec: ModelSpec, settings: ProfileSettings) -> tuple[Any, str | None]:
    """Build the model, load a checkpoint when one is on disk; eval mode."""
    import torch

    torch.manual_seed(settings.seed)
    model = build_model(spec)
    ckpt = find_checkpoint(spec, settings)
    if ckpt is not None:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model.eval(), ckpt


def _quantize_torch(model: Any) -> tuple[Any, str]:
    import torch
    from torch import nn

    n_linear = sum(1 for m in model.modules() if type(m) is nn.Linear)
    qmodel = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    dyn_linear = torch.ao.nn.quantized.dynamic.Linear
    n_q = sum(1 for m in qmodel.modules() if isinstance(m, dyn_linear))
    return qmodel, f"Linear only (dynamic): {n_q} of {n_linear} nn.Linear layers quantized"


def prepare_torch(config: DeployConfig, settings: ProfileSettings, spec: ModelSpec) -> Prepared:
    """Eager or compiled PyTorch on the requested device (int8: always CPU)."""
    import torch

    if config.threads is not None:
        torch.set_num_threads(config.threads)
        torch.set_num_interop_threads(1)
    # int8 dynamic quantization runs on the CPU whatever device was requested
    want_cuda = settings.device == "cuda" and config.precision != "int8"
    if want_cuda and not torch.cuda.is_available():
        raise DeviceUnavailable("device 'cuda' requested but torch.cuda.is_available() is False")
    model, ckpt = load_model(spec, settings)
    quantized = None
    dtype = torch.float32
    if config.precision == "int8":
        model, quantized = _quantize_torch(model)
        device = "cpu"
    else:
        device = "cuda" if want_cuda else "cpu"
        if config.precision == "fp16":
            dtype = torch.float16
            model = model.half()
    model = model.to(device)
    gen = torch.Generator().manual_seed(settings.seed)
    x = torch.randn(
        config.batch_size, 3, settings.image_size, settings.image_size, generator=gen
    ).to(device=device, dtype=dtype)
    fn = torch.compile(model) if config.backend == "torch_compile" else model
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run() -> Any:
        with torch.inference_mode():
            out = fn(x)
        sync()
        return out

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = fn(torch.from_numpy(batch).to(device=device, dtype=dtype))
        return np.asarray(out.float().cpu().numpy())

    return Prepared(
        run=run, predict=predict, device_executed=device, quantized=quantized,
        threads_intra=torch.get_num_threads(), threads_inter=torch.get_num_interop_threads(),
        static_batch=config.backend == "torch_compile", weights_loaded=ckpt,
        info={"torch_compile_backend": "inductor"} if config.backend == "torch_compile" else {},
    )


# --------------------------------------------------------------------------- onnxruntime

_QUANT_OP_PREFIXES = ("QLinear", "Dynamic", "QAttention", "QGemm")
_FLOAT_COMPUTE_OPS = ("Conv", "MatMul", "Gemm")


def summarize_quantized_graph(path: str) -> str:
    """Which ops a dynamically quantized ONNX graph really runs in integer arithmetic."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    ops = collections.Counter(n.op_type for n in graph.node)
    integer = {
        k: v for k, v in ops.items() if k.endswith("Integer") or k.startswith(_QUANT_OP_PREFIXES)
    }
    left = {k: ops[k] for k in _FLOAT_COMPUTE_OPS if ops.get(k)}
    q = ", ".join(f"{k} x{v}" for k, v in sorted(integer.items())) or "none"
    f = ", ".join(f"{k} x{v}" for k, v in sorted(left.items())) or "none"
    return f"onnxruntime quantize_dynamic (uint8 weights): integer ops {q}; still float: {f}"


def export_onnx(
    config: DeployConfig, settings: ProfileSettings, spec: ModelSpec, out_dir: str
) -> dict[str, Any]:
    """Export ``model.onnx`` (dynamic batch) for the precision into ``out_dir``.

    Returns the metadata also written to ``out_dir/meta.json``.
    """
    import time

    import torch

    t0 = time.perf_counter()
    model, ckpt = load_model(spec, settings)
    dtype = torch.float32
    if config.precision == "fp16":
        model, dtype = model.half(), torch.float16
    dummy = torch.randn(1, 3, settings.image_size, settings.image_size).to(dtype)
    fp_path = os.path.join(out_dir, "fp.onnx" if config.precision == "int8" else "model.onnx")
    exporter = "torchscript"
    try:
        torch.onnx.export(
            model, (dummy,), fp_path, dynamo=False, input_names=["input"],
            output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
        )
    except Exception:  # the legacy exporter may be missing in future torch versions
        exporter = "dynamo"
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.onnx.export(
            model, (dummy,), fp_path, dynamo=True, input_names=["input"], output_names=["logits"],
            dynamic_shapes=({0: batch},), external_data=False,
        )
    quantized = None
    if config.precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q_path = os.path.join(out_dir, "model.onnx")
        quantize_dynamic(fp_path, q_path, weight_type=QuantType.QUInt8)
        os.remove(fp_path)
        quantized = summarize_quantized_graph(q_path)
    acc, categories = model_card(spec)
    meta = {
        "exporter": exporter,
        "weights_loaded": ckpt,
        "model_card_accuracy": acc,
        "categories": categories,
        "quantized": quantized,
        "export_s": time.perf_counter() - t0,
        "torch_version": torch.__version__,
    }
    with open(os.path.join(out_dir, "meta.json"), "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    return meta


def prepare_ort(
    config: DeployConfig, settings: ProfileSettings, onnx_path: str, meta: dict[str, Any]
) -> Prepared:
    """An ONNX Runtime session with the configured threads and execution provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(config.threads or 0)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if settings.device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceUnavailable(
                "device 'cuda' requested but onnxruntime has no CUDAExecutionProvider "
                f"(available: {ort.get_available_providers()})"
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    sess = ort.InferenceSession(onnx_path, so, providers=providers)
    active = sess.get_providers()
    device = "cuda" if active and active[0] == "CUDAExecutionProvider" else "cpu"
    if device == "cuda" and config.precision == "int8":
        device = "cuda+cpu"  # integer ops without CUDA kernels fall back to the CPU
    np_dtype = np.float16 if config.precision == "fp16" else np.float32
    name = sess.get_inputs()[0].name
    rng = np.random.default_rng(settings.seed)
    shape = (config.batch_size, 3, settings.image_size, settings.image_size)
    x = rng.standard_normal(shape).astype(np_dtype)

    def run() -> Any:
        return sess.run(None, {name: x})

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: batch.astype(np_dtype)})[0], dtype=np.float32)

    return Prepared(
        run=run, predict=predict, device_executed=device, quantized=meta.get("quantized"),
        threads_intra=so.intra_op_num_threads, threads_inter=so.inter_op_num_threads,
        static_batch=False, weights_loaded=meta.get("weights_loaded"),
        info={
            "ort_providers": active,
            "ort_intra_op_num_threads": so.intra_op_num_threads,
            "ort_inter_op_num_threads": so.inter_op_num_threads,
            "ort_execution_mode": "sequential",
            "onnx_exporter": meta.get("exporter"),
        },
    )
