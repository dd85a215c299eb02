#!/usr/bin/env bash
# check-tensorboard.sh — reads Taipan's TensorBoard event files with TensorBoard's own reader
# (Python `tensorboard`, installed from PyPI into scripts/.venv-tensorboard) and lists every
# scalar tag with its (step, value) pairs.
#
#   scripts/check-tensorboard.sh RUN_DIR   reads the event files a training run wrote to RUN_DIR
#   scripts/check-tensorboard.sh           runs the Swift test that writes a known event file
#                                          and checks TensorBoard reads back exactly its scalars
set -euo pipefail
if [ $# -gt 1 ]; then
    echo "usage: $0 [RUN_DIR]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    [ -d "$1" ] || { echo "$1: not a directory" >&2; exit 2; }
    run_dir=$(cd "$1" && pwd)
fi
cd "$(dirname "$0")/.."

venv=scripts/.venv-tensorboard
if ! "$venv/bin/python" -c 'import tensorboard' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet tensorboard
fi

if [ -z "${run_dir:-}" ]; then
    run_dir=$(mktemp -d)
    trap 'rm -rf "$run_dir"' EXIT
    TAIPAN_TENSORBOARD_OUT="$run_dir" swift test --filter 'TensorBoardWriterTests/writesAFileForTheCheckScript' >/dev/null
    [ -f "$run_dir/expected.json" ] || { echo "the Swift test wrote nothing to $run_dir" >&2; exit 1; }
fi
"$venv/bin/python" scripts/check_tensorboard.py "$run_dir"
