#!/usr/bin/env bash
# check-transformers.sh — checks that Taipan's Mamba and Mamba-2 model directories load in Hugging Face
# `transformers` and back, with the same logits, hidden states, loss, gradients and greedy
# continuation (scripts/check_transformers.py does the comparing). Sets up its own virtual
# environment (scripts/.venv-transformers, see transformers-venv.sh) on the
# first run. Exits non-zero when any configuration disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/transformers-venv.sh)
taipan=$(scripts/taipan-binary.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One thread each side keeps the numbers reproducible and the run polite on a shared machine.
status=0
for fixture in mamba-tiny mamba2-tiny; do
    mkdir -p "$work/$fixture"
    echo "== $fixture"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" scripts/check_transformers.py \
        "$taipan" "Tests/Fixtures/$fixture/model/config.json" "$work/$fixture" || status=1
done
exit $status
