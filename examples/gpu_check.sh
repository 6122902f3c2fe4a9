#!/usr/bin/env bash
# Exercise deploybench's CUDA measurement paths on a GPU machine in about eight minutes.
#
#   bash examples/gpu_check.sh OUT_DIR
#
# Expects python3 with torch, torchvision, onnx, onnxruntime and this project importable
# (PYTHONPATH=. works from the repository root). Each step has its own time limit, so a
# slow machine yields a shorter recording, never a lost one (recordings are written row
# by row and a rerun resumes them). What it writes to OUT_DIR:
#   env.txt                    GPU, driver and package versions
#   eager.recording.jsonl      pytorch_eager on cuda: 6 models x fp32/fp16/int8 x batch 1/32,
#                              2 repeats (int8 runs on the CPU: dynamic quantization has no
#                              CUDA kernels; the rows say so)
#   compiled.recording.jsonl   torch_compile and onnxruntime on cuda, resnet18, batch 8
#   optimize.log, optimize.db  a short live study (edge_tight scenario, TBAHybridSampler;
#                              without CUDA it stops at once with a one-line error)
# Results of its first run: docs/deploybench/gpu-check.md
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
t0=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }

step environment
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$py" - <<'EOF'
import platform, torch, torchvision, onnx, onnxruntime, optuna
print("python", platform.python_version())
for m in (torch, torchvision, onnx, onnxruntime, optuna):
    print(m.__name__, m.__version__)
print("cuda available", torch.cuda.is_available(), torch.version.cuda)
print("onnxruntime providers", onnxruntime.get_available_providers())
EOF
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

step "record: pytorch_eager on cuda"
timeout "${EAGER_S:-200}" "$py" -m deploybench record --device cuda --no-progress \
  --models resnet18 resnet50 mobilenet_v2 efficientnet_b0 vit_ti16 vit_b16 \
  --backends pytorch_eager --precisions fp32 fp16 int8 --batch-sizes 1 32 --threads 1 \
  --repeats 2 --note "GPU check (examples/gpu_check.sh)" \
  --out "$out/eager.recording.jsonl"
echo "exit $?"

step "record: torch_compile and onnxruntime on cuda"
timeout "${COMPILED_S:-100}" "$py" -m deploybench record --device cuda --no-progress \
  --models resnet18 --backends torch_compile onnxruntime --precisions fp16 fp32 \
  --batch-sizes 8 --threads 1 --repeats 1 --note "GPU check (examples/gpu_check.sh)" \
  --out "$out/compiled.recording.jsonl"
echo "exit $?"

step "optimize: edge_tight on cuda"
timeout "${OPTIMIZE_S:-170}" "$py" -m deploybench optimize --scenario edge_tight --device cuda \
  --budget "${BUDGET:-12}" --backends pytorch_eager,onnxruntime --seed 0 --no-progress \
  --storage "sqlite:///$out/optimize.db" --output-dir "$out/figures" >"$out/optimize.log" 2>&1
echo "exit $?"
tail -25 "$out/optimize.log"
rm -rf "$out/figures"
step done
