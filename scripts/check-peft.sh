#!/usr/bin/env bash
# check-peft.sh — checks that Taipan's LoRA adapters load in PEFT on transformers' model of the
# same (trained) base with the same logits, that `taipan model merge` gives them too, and that
# an adapter PEFT made loads in Taipan (scripts/check_peft.py does the comparing). Shares the
# virtual environment of check-transformers.sh (scripts/.venv-transformers), adding peft.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/transformers-venv.sh)
taipan=$(scripts/taipan-binary.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" scripts/check_peft.py "$taipan" "$work"
