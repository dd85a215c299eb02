#!/usr/bin/env bash
# compare-llamacpp.sh — Taipan's decoding against llama.cpp's, the CPU inference engine users
# would otherwise pick, for the 130M Mamba and Mamba-2 (issue 14): tokens/s at batch 1 and 2
# threads, alternated in pairs (llama.cpp, then Taipan), at matching precisions: llama.cpp f32
# against Taipan float32, f16 against --weights bfloat16, q8_0 against int8, and Q4_0 against
# Taipan's smallest weights (int8). benchmarks/compare_llamacpp.py measures and prints the table,
# RESULT lines and the machine.
#
# On the first run, everything under benchmarks/.llamacpp/ (git-ignored; later runs reuse it):
# - Debian's cmake (apt-get install, as root or through sudo), when it is missing;
# - venv/: scikit-build-core, so that `pip download --no-binary :all:` of llama-cpp-python's
#   source distribution does not compile cmake from source; the llama.cpp tree vendored in it
#   (vendor/llama.cpp) is built with Debian's cmake: llama-bench and llama-quantize only,
#   Release, CPU only, -DGGML_NATIVE=ON, no network code;
# - models/: the architectures of configs/bench-130m.toml and configs/bench-130m-mamba2.toml
#   written by `taipan model init` with the configs' train.seed (random weights; Taipan's side
#   decodes these same directories with `taipan bench generate --model`), converted by the tree's
#   convert_hf_to_gguf.py to f32 and f16 GGUFs, and quantised from f32 to q8_0 and Q4_0. There
#   is no tokenizer file, so the converter puts in its built-in GPT-NeoX vocabulary
#   (models/ggml-vocab-gpt-neox.gguf: ids 0–50,276, then "[PADn]" fillers) cut to the model's
#   vocab_size rounded up to pad_vocab_size_multiple (8 in Taipan's config.json; without it the
#   Mamba-2 converter rounds 50,280 to 50,288 tokens, more than the embedding's rows, which
#   llama.cpp refuses). The script checks each GGUF: largest real id below the vocabulary, as
#   many tokens as embedding rows. The converter runs in the Python of
#   scripts/transformers-venv.sh (it imports torch and transformers; a second venv would mean
#   a second multi-GB torch), with the tree's own gguf package.
#
# Usage: benchmarks/compare-llamacpp.sh [--runs R] [--tokens N] [--threads T]
#                                       [--mamba1-only | --mamba2-only] [--quick]
#   --runs R       pairs for each model and precision (default 3); medians are reported
#   --tokens N     new tokens a run, both sides (default 64)
#   --threads T    threads, both sides (default 2)
#   --quick        1 pair of 16 tokens: checks that everything runs (the numbers mean little)
# Environment: TAIPAN=/path/to/taipan (default: scripts/taipan-binary.sh, which builds it),
# JOBS=N for the llama.cpp build (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "compare-llamacpp.sh: error: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

runs=3 tokens=64 threads=2 models=mamba1,mamba2
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
        --tokens) [ $# -ge 2 ] || die "--tokens needs a value"; tokens=$2; shift 2 ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
        --runs=*) runs=${1#*=}; shift ;;
        --tokens=*) tokens=${1#*=}; shift ;;
        --threads=*) threads=${1#*=}; shift ;;
        --mamba1-only) models=mamba1; shift ;;
        --mamba2-only) models=mamba2; shift ;;
        --quick) runs=1 tokens=16; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (--help lists them)" ;;
    esac
done
for value in "$runs" "$tokens" "$threads"; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "--runs, --tokens and --threads take positive integers, not '$value'"
done
[ "$tokens" -ge 2 ] || die "--tokens must be at least 2"

cache=benchmarks/.llamacpp
mkdir -p "$cache"

# 1. Debian's cmake.
if ! command -v cmake >/dev/null; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "cmake is missing, and installing it needs root or sudo"
        sudo=(sudo)
    fi
    note "installing Debian's cmake (apt-get install -y cmake)"
    if ! "${sudo[@]}" apt-get install -y cmake >&2; then
        "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y cmake >&2 || die "apt-get install cmake failed"
    fi
fi

# 2. llama.cpp's source, from the llama-cpp-python source distribution.
venv=$cache/venv
if ! "$venv/bin/python" -c 'import scikit_build_core' 2>/dev/null; then
    note "creating $venv (scikit-build-core)"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet scikit-build-core >&2 || die "pip install scikit-build-core failed"
fi
sdist=$(ls "$cache"/dl/llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$sdist" ]; then
    note "downloading llama-cpp-python's source distribution (about 77 MB)"
    "$venv/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation -d "$cache/dl" llama-cpp-python >&2 \
        || die "pip download llama-cpp-python failed"
    sdist=$(ls "$cache"/dl/llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$sdist" ] || die "pip download left no llama_cpp_python-*.tar.gz in $cache/dl"
fi
name=$(basename "$sdist" .tar.gz)
version=${name#llama_cpp_python-}
tree=$cache/src/$name/vendor/llama.cpp
if [ ! -f "$tree/convert_hf_to_gguf.py" ]; then
    note "extracting $sdist"
    rm -rf "$cache/src/$name" "$cache/src/.partial"
    mkdir -p "$cache/src/.partial"
    tar -xzf "$sdist" -C "$cache/src/.partial"
    [ -f "$cache/src/.partial/$name/vendor/llama.cpp/CMakeLists.txt" ] || die "$sdist holds no vendor/llama.cpp"
    mv "$cache/src/.partial/$name" "$cache/src/$name"
    rmdir "$cache/src/.partial"
fi

# 3. llama-bench and llama-quantize.
build=$cache/build
flags=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
       -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENCL=OFF
       -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
       -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF)
stamp="$version ${flags[*]}"
if [ ! -x "$build/bin/llama-bench" ] || [ ! -x "$build/bin/llama-quantize" ] \
    || [ "$(cat "$build/taipan-stamp" 2>/dev/null)" != "$stamp" ]; then
    jobs=${JOBS:-$(nproc)}
    note "building llama.cpp $version (llama-bench, llama-quantize; -j$jobs)"
    start=$SECONDS
    cmake -S "$tree" -B "$build" "${flags[@]}" >"$cache/cmake-configure.log" 2>&1 \
        || { tail -n 30 "$cache/cmake-configure.log" >&2; die "cmake configure failed ($cache/cmake-configure.log)"; }
    cmake --build "$build" --config Release -j "$jobs" --target llama-bench llama-quantize >"$cache/cmake-build.log" 2>&1 \
        || { tail -n 30 "$cache/cmake-build.log" >&2; die "the llama.cpp build failed ($cache/cmake-build.log)"; }
    echo "$stamp" >"$build/taipan-stamp"
    note "built in $((SECONDS - start)) s"
fi
llama_bench=$build/bin/llama-bench
llama_quantize=$build/bin/llama-quantize

# 4. Taipan, and the converter's Python.
if [ -n "${TAIPAN:-}" ]; then
    taipan=$TAIPAN
else
    note "building Taipan (scripts/taipan-binary.sh; set TAIPAN=/path/to/taipan to skip)"
    taipan=$(scripts/taipan-binary.sh) || die "scripts/taipan-binary.sh failed"
fi
[ -x "$taipan" ] || die "the Taipan binary '$taipan' is not an executable file"
convert_python=$(scripts/transformers-venv.sh) || die "scripts/transformers-venv.sh failed"
helper=(env PYTHONPATH="$PWD/$tree/gguf-py" "$convert_python" benchmarks/compare_llamacpp.py)

# 5. The models and their GGUFs.
models_dir=$cache/models
mkdir -p "$models_dir"
for model in ${models//,/ }; do
    case $model in
        mamba1) config=configs/bench-130m.toml ;;
        mamba2) config=configs/bench-130m-mamba2.toml ;;
    esac
    dir=$models_dir/$model
    if [ ! -f "$dir/model.safetensors" ]; then
        rm -rf "$dir" "$dir.partial"
        mkdir -p "$dir.partial"
        seed=$("${helper[@]}" config "$config" "$dir.partial/init-config.json") || die "cannot read $config"
        note "initialising $dir ($config's architecture, seed $seed)"
        "$taipan" model init --config "$dir.partial/init-config.json" --out "$dir.partial/model" --seed "$seed" >&2 \
            || die "taipan model init failed"
        mv "$dir.partial/model" "$dir"
        mv "$dir.partial/init-config.json" "$dir/init-config.json"
        rmdir "$dir.partial"
        # The GGUFs of an older model are stale.
        rm -f "$models_dir/$model"-*.gguf
    fi
    for outtype in f32 f16; do
        gguf=$models_dir/$model-$outtype.gguf
        if [ ! -f "$gguf" ]; then
            note "converting $dir to $gguf"
            "$convert_python" "$tree/convert_hf_to_gguf.py" "$dir" --outtype "$outtype" --outfile "$gguf.partial" \
                >"$models_dir/convert-$model-$outtype.log" 2>&1 \
                || { tail -n 30 "$models_dir/convert-$model-$outtype.log" >&2; die "convert_hf_to_gguf.py failed"; }
            grep -i "tokenizer\|vocab" "$models_dir/convert-$model-$outtype.log" | sed 's/^/   /' >&2 || true
            "${helper[@]}" vocab "$gguf.partial" "$dir" >&2 || die "$gguf: llama.cpp could not use it"
            mv "$gguf.partial" "$gguf"
        fi
    done
    for type in q8_0 q4_0; do
        gguf=$models_dir/$model-$type.gguf
        if [ ! -f "$gguf" ]; then
            note "quantising $models_dir/$model-f32.gguf to ${type^^}"
            "$llama_quantize" "$models_dir/$model-f32.gguf" "$gguf.partial" "${type^^}" "$threads" \
                >"$models_dir/quantize-$model-$type.log" 2>&1 \
                || { tail -n 30 "$models_dir/quantize-$model-$type.log" >&2; die "llama-quantize failed"; }
            mv "$gguf.partial" "$gguf"
        fi
    done
done

# 6. The measurement.
exec "$convert_python" benchmarks/compare_llamacpp.py measure --llama-bench "$llama_bench" --taipan "$taipan" \
    --gguf-dir "$models_dir" --models "$models" --runs "$runs" --tokens "$tokens" --threads "$threads" \
    --llamacpp-version "$version"
