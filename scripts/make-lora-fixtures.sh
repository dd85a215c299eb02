#!/usr/bin/env bash
# make-lora-fixtures.sh — regenerates Tests/Fixtures/peft-lora: a LoRA adapter made by PEFT on
# the mamba-tiny fixture model, and the float64 logits PEFT computes with it
# (scripts/make_lora_fixtures.py). Uses the virtual environment of check-transformers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/transformers-venv.sh)
"$python" scripts/make_lora_fixtures.py Tests/Fixtures/mamba-tiny/model Tests/Fixtures/peft-lora
