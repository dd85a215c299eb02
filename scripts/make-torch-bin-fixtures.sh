#!/usr/bin/env bash
# make-torch-bin-fixtures.sh — regenerates Tests/Fixtures/torch-bin: tiny mamba_ssm model
# directories whose pytorch_model.bin files `torch.save` writes (float32, float16, bfloat16, a
# strided one), the logits a float64 PyTorch reference computes for them, and hostile or broken
# .bin files a loader must refuse (scripts/make_torch_bin_fixtures.py says which). Sets up its own
# virtual environment (scripts/.venv-torchbin, with torch) on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=scripts/.venv-torchbin
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch
fi
out=Tests/Fixtures/torch-bin
rm -rf "$out"
"$venv/bin/python" -W ignore scripts/make_torch_bin_fixtures.py "$out" Tests/Fixtures/mamba-tiny
