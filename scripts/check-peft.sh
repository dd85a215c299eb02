#!/usr/bin/env bash
# check-peft.sh — checks that Taipan's LoRA adapters load in PEFT on transformers' model of the
# same (trained) base with the same logits, that `taipan model merge` gives them too, and that
# an adapter PEFT made loads in Taipan (scripts/check_peft.py does the comparing). Shares the
# virtual environment of check-transformers.sh (scripts/.venv-transformers), adding peft.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=scripts/.venv-transformers
if ! "$venv/bin/python" -c 'import torch, transformers, safetensors, peft' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch transformers safetensors peft
fi
# The same release build as `make build` (another set of flags would rebuild everything).
make -s build >/dev/null
taipan="$(make -s bin-path)/taipan"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$venv/bin/python" scripts/check_peft.py "$taipan" "$work"
