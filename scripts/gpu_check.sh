#!/usr/bin/env bash
# The GPU check (issue #17): base training, fine-tuning and inference timed on the selected device
# (IMAGING_AI_DEVICE or --device: auto, cpu, cuda) and on the CPU in the same run; prints JSON.
# Needs the shared datasets (IMAGING_AI_DATASETS_DIR, default ../shared/datasets). Examples:
#   scripts/gpu_check.sh                          # auto: the GPU when torch sees one, else CPU only
#   scripts/gpu_check.sh --device cuda --out docs/bench/gpu_check.json
#   IMAGING_AI_MIXED_PRECISION=false scripts/gpu_check.sh --device cuda
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
  scripts/bootstrap.sh
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
fi
exec .venv/bin/python -m bench.gpu_check "$@"
