"""compare_llamacpp.py — Taipan's decoding against llama.cpp's on this CPU (issue 14).
benchmarks/compare-llamacpp.sh builds llama.cpp, makes and converts the models, then runs
`measure`; the other subcommands are its helpers.

- `config TOML OUT`: writes the config.json of a Taipan TOML config's architecture for
  `taipan model init` (the TOML's [model] keys, which carry the Hugging Face names, with Taipan's
  defaults for the keys that decide the initialisation), and prints the config's `train.seed`:
  `taipan model init --seed SEED` writes that architecture, which both sides then load.
- `vocab GGUF MODEL_DIR`: reads a converted GGUF and checks that llama.cpp can load it: its
  token list (the tokenizer llama.cpp uses) against the embedding's rows and the model
  directory's vocab_size, every token id below the vocabulary size.
- `measure`: decoding tokens/s at batch 1, alternated in pairs, llama.cpp first:
  `llama-bench -m X.gguf -p 0 -n N -t T -r 1 -o json` (generation only, no prompt; its own
  warm-up run first) then `taipan bench generate --config TOML --model DIR --weights W --tokens N
  --runs 1 --threads T` on the model directory the GGUFs were converted from (it times the N
  steps after a 16-token prefill), `--runs` pairs for each model and precision pair:
  f32 / float32, f16 / bfloat16, q8_0 / int8, Q4_0 / int8 (Taipan's smallest weights).
  Each side's tokens/s is the median of its runs; the ratio is the median of the pairs' ratios
  (Taipan ÷ llama.cpp), as the machine's speed drifts within minutes. Prints a table, one
  RESULT line per row and the machine.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

from taipan_config import read_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    "mamba1": ("Mamba 130M", "configs/bench-130m.toml"),
    "mamba2": ("Mamba-2 130M", "configs/bench-130m-mamba2.toml"),
}

# (llama.cpp GGUF type, Taipan --weights); the GGUF files are DIR/MODEL-TYPE.gguf.
PAIRS = [("f32", "float32"), ("f16", "bfloat16"), ("q8_0", "int8"), ("q4_0", "int8")]


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# config: a Taipan TOML config's architecture as a config.json for `taipan model init`.

# [model] keys that are not architecture (or that config.json does not carry).
NOT_ARCHITECTURE = {"architecture", "init_from", "config", "scan_checkpoint_interval"}
# Taipan's TOML defaults (Sources/TaipanTrain/TrainConfig.swift) for the keys that shape the
# model or its initialisation, spelled out: config.json's defaults are Hugging Face's, which
# differ for some (initializer_range 0.1, rescale_prenorm_residual false).
TOML_DEFAULTS = {
    "conv_kernel": 4, "use_bias": False, "use_conv_bias": True, "tie_word_embeddings": True,
    "layer_norm_epsilon": 1e-5, "initializer_range": 0.02, "rescale_prenorm_residual": True,
    "time_step_min": 0.001, "time_step_max": 0.1, "time_step_floor": 1e-4, "pad_vocab_size_multiple": 8,
}
MAMBA1_DEFAULTS = {"time_step_scale": 1.0, "time_step_init_scheme": "random"}
MAMBA2_REJECTS = {"time_step_rank", "time_step_scale", "time_step_init_scheme", "mixer", "gate"}


def config_json(toml_path):
    document = read_config(toml_path, Failure)
    model = dict(document.get("model", {}))
    if model.get("config") or model.get("init_from"):
        raise Failure(f"{toml_path}: model.config / model.init_from are not supported here; give the architecture keys")
    architecture = model.get("architecture", "mamba")
    if architecture not in ("mamba", "mamba2"):
        raise Failure(f"{toml_path}: model.architecture {architecture!r} is neither \"mamba\" nor \"mamba2\"")
    if model.get("vocab_size", 0) <= 0:
        raise Failure(f"{toml_path}: model.vocab_size must be set (there is no tokenizer to size it)")
    if architecture == "mamba":
        if model.get("mixer", "s6") != "s6" or not model.get("gate", True):
            raise Failure(f"{toml_path}: model.mixer / model.gate variants are not Mamba models llama.cpp reads")
        model.pop("mixer", None)
        model.pop("gate", None)
        for key in ("head_dim", "n_groups", "chunk_size"):
            model.pop(key, None)
    else:
        extra = sorted(MAMBA2_REJECTS & model.keys())
        if extra:
            raise Failure(f"{toml_path}: {', '.join(extra)}: not Mamba-2 keys")
    out = {key: value for key, value in model.items() if key not in NOT_ARCHITECTURE}
    for key, value in (TOML_DEFAULTS | (MAMBA1_DEFAULTS if architecture == "mamba" else {})).items():
        out.setdefault(key, value)
    if out.get("time_step_rank") == "auto":
        del out["time_step_rank"]  # config.json's default is the same ⌈hidden_size / 16⌉
    out["model_type"] = architecture
    out["architectures"] = ["MambaForCausalLM" if architecture == "mamba" else "Mamba2ForCausalLM"]
    seed = document.get("train", {}).get("seed", 0)
    return dict(sorted(out.items())), seed


def config_main(argv):
    parser = argparse.ArgumentParser(prog="compare_llamacpp.py config")
    parser.add_argument("toml")
    parser.add_argument("out")
    args = parser.parse_args(argv)
    config, seed = config_json(args.toml)
    with open(args.out, "w") as file:
        json.dump(config, file, indent=2)
        file.write("\n")
    print(seed)


# ---------------------------------------------------------------------------------------------
# vocab: what llama.cpp will see in a converted GGUF.

def vocab_main(argv):
    parser = argparse.ArgumentParser(prog="compare_llamacpp.py vocab")
    parser.add_argument("gguf")
    parser.add_argument("model_dir")
    args = parser.parse_args(argv)
    import gguf  # the tree's gguf-py, in the venv

    reader = gguf.GGUFReader(args.gguf, "r")

    def field_string(key):
        field = reader.get_field(key)
        return None if field is None else bytes(field.parts[-1]).decode("utf-8")

    def field_int(key):
        field = reader.get_field(key)
        return None if field is None else int(field.parts[-1][0])

    arch = field_string("general.architecture")
    tokens = reader.get_field(gguf.Keys.Tokenizer.LIST)
    names = [] if tokens is None else [bytes(tokens.parts[index]) for index in tokens.data]
    token_count = len(names)
    # The converter's built-in vocabularies end in "[PADn]" filler entries.
    real = [index for index, name in enumerate(names) if not re.fullmatch(rb"\[PAD\d+\]", name)]
    embedding = next((tensor for tensor in reader.tensors if tensor.name == "token_embd.weight"), None)
    if embedding is None:
        raise Failure(f"{args.gguf}: no token_embd.weight")
    # GGUF shapes are innermost first: (n_embd, n_vocab).
    rows = int(embedding.shape[-1])
    with open(os.path.join(args.model_dir, "config.json")) as file:
        vocab_size = json.load(file)["vocab_size"]
    ids = {name: field_int(key) for name, key in
           [("bos", gguf.Keys.Tokenizer.BOS_ID), ("eos", gguf.Keys.Tokenizer.EOS_ID),
            ("unk", gguf.Keys.Tokenizer.UNK_ID), ("pad", gguf.Keys.Tokenizer.PAD_ID)]}
    largest = max([real[-1] if real else -1] + [value for value in ids.values() if value is not None])
    print(f"{os.path.basename(args.gguf)}: architecture {arch}, tokenizer {field_string(gguf.Keys.Tokenizer.MODEL)} "
          f"(pre {field_string(gguf.Keys.Tokenizer.PRE)}), {token_count} tokens of which {token_count - len(real)} "
          f"[PAD] fillers, largest real id {largest}, special ids {ids}; token_embd {rows} rows; "
          f"model vocab_size {vocab_size}")
    if not real:
        raise Failure(f"{args.gguf}: no tokenizer tokens")
    if largest >= vocab_size:
        raise Failure(f"{args.gguf}: the tokenizer's largest id {largest} is not below the model's vocabulary of {vocab_size}")
    if token_count != rows:
        raise Failure(f"{args.gguf}: {token_count} tokens but token_embd has {rows} rows: llama.cpp would refuse it")


# ---------------------------------------------------------------------------------------------
# measure

def run(command, name, timeout):
    """Runs `command`; returns its stdout (its stderr is kept for errors)."""
    try:
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise Failure(f"{name}: no result after {timeout} s") from error
    except OSError as error:
        raise Failure(f"{name}: cannot run {command[0]}: {error.strerror}") from error
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-4000:])
        raise Failure(f"{name}: exited with status {completed.returncode}: {' '.join(command)}")
    return completed.stdout


def llama_bench(binary, gguf_path, tokens, threads, timeout):
    name = f"llama-bench {os.path.basename(gguf_path)}"
    command = [binary, "-m", gguf_path, "-p", "0", "-n", str(tokens), "-t", str(threads), "-r", "1", "-o", "json"]
    text = run(command, name, timeout)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(f"{name}: unreadable JSON: {text[:500]!r}") from error
    generation = [record for record in records if record.get("n_gen") == tokens and record.get("n_prompt") == 0]
    if len(generation) != 1:
        raise Failure(f"{name}: expected one generation record, got {records!r}")
    return generation[0]


def taipan_bench(binary, config, model_dir, weights, tokens, threads, timeout):
    name = f"taipan bench generate --model {model_dir} --weights {weights}"
    command = [binary, "bench", "generate", "--config", config, "--model", model_dir, "--weights", weights,
               "--tokens", str(tokens), "--runs", "1", "--threads", str(threads)]
    text = run(command, name, timeout)
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise Failure(f"{name}: printed no RESULT line:\n{text}")
    fields = {}
    for item in lines[-1][len("RESULT "):].split():
        key, _, value = item.partition("=")
        try:
            fields[key] = float(value)
        except ValueError as error:
            raise Failure(f"{name}: unreadable RESULT field {item!r}") from error
    if "tokens_per_second" not in fields:
        raise Failure(f"{name}: no tokens_per_second in {lines[-1]!r}")
    match = re.search(r"([\d,]+) parameters", text)
    fields["parameters"] = int(match.group(1).replace(",", "")) if match else None
    return fields


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure_main(argv):
    parser = argparse.ArgumentParser(prog="compare_llamacpp.py measure")
    parser.add_argument("--llama-bench", required=True)
    parser.add_argument("--taipan", required=True)
    parser.add_argument("--gguf-dir", required=True, help="holds MODEL-TYPE.gguf (mamba1-f32.gguf, …) and the model directories MODEL/")
    parser.add_argument("--models", default="mamba1,mamba2")
    parser.add_argument("--runs", type=int, default=3, help="pairs per model and precision")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds for one run of either side")
    parser.add_argument("--llamacpp-version", default="unknown")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.tokens < 2 or args.threads < 1:
        raise Failure("--runs and --threads must be at least 1, --tokens at least 2")
    models = [name for name in args.models.split(",") if name]
    unknown = [name for name in models if name not in MODELS]
    if unknown or not models:
        raise Failure(f"--models: {', '.join(unknown) or 'none'}: expected mamba1 and/or mamba2")

    load_before = os.getloadavg()
    cores = os.cpu_count() or 1
    if load_before[0] > cores - 0.5:
        print(f"warning: load average {load_before[0]:.2f} on {cores} cores: other processes share the cores; "
              "the tokens/s below are not the machine's", file=sys.stderr)
    rows, details, build = [], [], None
    for model in models:
        title, config = MODELS[model]
        model_dir = os.path.join(args.gguf_dir, model)
        if not os.path.isfile(os.path.join(model_dir, "config.json")):
            raise Failure(f"{model_dir}: missing (compare-llamacpp.sh makes it)")
        for gguf_type, weights in PAIRS:
            gguf_path = os.path.join(args.gguf_dir, f"{model}-{gguf_type}.gguf")
            if not os.path.isfile(gguf_path):
                raise Failure(f"{gguf_path}: missing (compare-llamacpp.sh makes it)")
            label = gguf_type.upper() if gguf_type.startswith("q") else gguf_type
            llama, ours, ratios, loads, sizes = [], [], [], [], None
            for index in range(args.runs):
                loads.append(os.getloadavg()[0])
                record = llama_bench(args.llama_bench, gguf_path, args.tokens, args.threads, args.timeout)
                build = build or record
                fields = taipan_bench(args.taipan, config, model_dir, weights, args.tokens, args.threads, args.timeout)
                sizes = sizes or (record.get("model_n_params"), fields["parameters"], record.get("model_size"))
                llama.append(float(record["avg_ts"]))
                ours.append(fields["tokens_per_second"])
                ratios.append(ours[-1] / llama[-1])
                print(f"  {title} {label} / {weights}, pair {index + 1}/{args.runs} (load {loads[-1]:.2f}): "
                      f"llama.cpp {llama[-1]:.1f} tokens/s, Taipan {ours[-1]:.1f} tokens/s, {ratios[-1]:.2f}×",
                      file=sys.stderr, flush=True)
            row = {"model": model, "llamacpp": label,
                   "taipan": weights, "llamacpp_tps": statistics.median(llama), "taipan_tps": statistics.median(ours),
                   "ratio": statistics.median(ratios)}
            rows.append(row)
            details.append(f"{title}, {row['llamacpp']} / {weights}: pairs " + ", ".join(
                f"{a:.1f} / {b:.1f} ({r:.2f}×)" for a, b, r in zip(llama, ours, ratios))
                + f"; load average {', '.join(f'{load:.2f}' for load in loads)}"
                + f"; parameters llama.cpp {sizes[0]}, Taipan {sizes[1]}; GGUF tensors {sizes[2]} bytes")
    load_after = os.getloadavg()

    header = ["model", "llama.cpp / Taipan", "llama.cpp tokens/s", "Taipan tokens/s", "Taipan ÷ llama.cpp"]
    table = [[MODELS[row["model"]][0], f"{row['llamacpp']} / {row['taipan']}", f"{row['llamacpp_tps']:.1f}",
              f"{row['taipan_tps']:.1f}", f"{row['ratio']:.2f}×"] for row in rows]
    widths = [max(len(line[column]) for line in [header] + table) for column in range(len(header))]
    print()
    for line in [header] + table:
        print("  ".join(cell.ljust(width) if column < 2 else cell.rjust(width)
                        for column, (cell, width) in enumerate(zip(line, widths))))
    print()
    print("| " + " | ".join(header) + " |")
    print("|---|---|---:|---:|---:|")
    for line in table:
        print("| " + " | ".join(line) + " |")
    print()
    for row in rows:
        print(f"RESULT model={row['model']} llamacpp={row['llamacpp']} taipan={row['taipan']} "
              f"llamacpp_tokens_per_second={row['llamacpp_tps']:.2f} taipan_tokens_per_second={row['taipan_tps']:.2f} "
              f"ratio={row['ratio']:.3f}")
    print()
    print(f"machine: {cpu_model()}, nproc {cores}, {platform.system()} {platform.release()}")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if build:
        print(f"llama.cpp: llama-cpp-python {args.llamacpp_version}'s vendored tree, build {build.get('build_commit')} "
              f"({build.get('build_number')}), backend {build.get('backends')}, cpu_info {build.get('cpu_info')!r}")
    print(f"Taipan: {args.taipan} (checkout {git_commit()})")
    print(f"batch 1, {args.threads} threads, {args.tokens} new tokens a run; llama-bench -p 0 (no prompt, one warm-up run), "
          f"Taipan after a 16-token prefill; {args.runs} pair(s) (llama.cpp, then Taipan) for each row; "
          "tokens/s: medians; ratio: median of the pairs' ratios")
    for line in details:
        print(line)
    return 0


def main():
    commands = {"config": config_main, "vocab": vocab_main, "measure": measure_main}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: {sys.argv[0]} {{{','.join(commands)}}} …", file=sys.stderr)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:]) or 0
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
