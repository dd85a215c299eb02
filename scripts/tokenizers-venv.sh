#!/usr/bin/env bash
# tokenizers-venv.sh — prints the Python of benchmarks/.venv-tokenizers, creating the virtual
# environment and installing Hugging Face `tokenizers` from PyPI first when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=benchmarks/.venv-tokenizers
if ! "$venv/bin/python" -c 'import tokenizers' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet tokenizers >&2
fi
echo "$PWD/$venv/bin/python"
