#!/usr/bin/env bash
# transformers-venv.sh — prints the Python of scripts/.venv-transformers, creating the virtual
# environment and installing torch, transformers, safetensors and peft from PyPI first when
# needed (check-transformers.sh, check-peft.sh and make-lora-fixtures.sh share it).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=scripts/.venv-transformers
if ! "$venv/bin/python" -c 'import torch, transformers, safetensors, peft' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet torch transformers safetensors peft >&2
fi
echo "$PWD/$venv/bin/python"
