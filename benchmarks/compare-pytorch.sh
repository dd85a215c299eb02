#!/usr/bin/env bash
# compare-pytorch.sh — Taipan against PyTorch on this CPU, in one run (issue 6, "Performance"):
# the bench-small training step in `mambapy` and `transformers` (MambaForCausalLM) against
# `taipan bench train`, memory, Taipan's MFU on bench-130m, and 130M greedy decoding against
# `transformers` `generate` (benchmarks/compare_pytorch.py measures and prints the table, and
# writes it to benchmarks/results-latest.md). Sets up its own virtual environment
# (benchmarks/.venv-pytorch: torch, mambapy, transformers) on the first run. Options go to
# compare_pytorch.py (e.g. --threads 2, --mambapy-steps 8; --help lists them); --mamba2 adds
# the Mamba-2 rows (transformers' Mamba2ForCausalLM on bench-small-mamba2, the MFU of
# bench-130m-mamba2, decoding against the measured memory bandwidth), --mamba2-only runs just them.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=benchmarks/.venv-pytorch
if ! "$venv/bin/python" -c 'import torch, mambapy, transformers' 2>/dev/null; then
    echo "Creating $venv (torch, mambapy, transformers)" >&2
    python3 -m venv "$venv"
    # From the configured registry, by name. Where that registry serves torch's CUDA build (as
    # on 2026-12-03: torch 2.15.0+cu132, the venv 5.6 GB), the CUDA libraries come along unused;
    # a pip configured with a CPU-only wheel source avoids them.
    "$venv/bin/pip" install --quiet torch mambapy transformers
fi
"$venv/bin/python" - >&2 <<'PY'
import importlib.metadata as metadata
import torch
print(f"using torch {torch.__version__}, " + ", ".join(f"{name} {metadata.version(name)}" for name in ("mambapy", "transformers")))
PY

# The build `make` makes: release, for Haswell and later where the CPU has AVX2 and FMA.
flags=(-c release -Xswiftc -enable-testing)
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    flags+=(-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DTAIPAN_FMA)
fi
if ! log=$(swift build "${flags[@]}" --product taipan 2>&1); then
    echo "$log" >&2
    exit 1
fi
taipan="$(swift build "${flags[@]}" --show-bin-path)/taipan"

# Random weights from configs: nothing is fetched from the Hugging Face Hub.
HF_HUB_OFFLINE=1 exec "$venv/bin/python" benchmarks/compare_pytorch.py --taipan "$taipan" "$@"
