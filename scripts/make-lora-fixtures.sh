#!/usr/bin/env bash
# make-lora-fixtures.sh — regenerates Tests/Fixtures/peft-lora: a LoRA adapter made by PEFT on
# the mamba-tiny fixture model, and the float64 logits PEFT computes with it
# (scripts/make_lora_fixtures.py). Uses the virtual environment of check-transformers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=scripts/.venv-transformers
if ! "$venv/bin/python" -c 'import torch, transformers, safetensors, peft' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch transformers safetensors peft
fi
"$venv/bin/python" scripts/make_lora_fixtures.py Tests/Fixtures/mamba-tiny/model Tests/Fixtures/peft-lora
