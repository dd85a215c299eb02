"""compare_pytorch.py — Taipan against PyTorch Mamba implementations on the same CPU, in one run
(issue 6, "Performance"). benchmarks/compare-pytorch.sh sets up the virtual environment and runs it.

Measured one after the other, each PyTorch benchmark in a process of its own (so that its
`ru_maxrss` is its own peak resident memory):
- training step (forward, backward, gradient clipping, AdamW) on random tokens with the shapes of
  configs/bench-small.toml, median step time after warm-up, in
  - `mambapy` (pure PyTorch, parallel scan): embedding, its `Mamba` stack of residual blocks with
    RMSNorm, a final RMSNorm and a head tied to the embedding;
  - `transformers`' `MambaForCausalLM` (its CPU path: the sequential scan in PyTorch);
  - Taipan (`taipan bench train`), alternated with mambapy in back-to-back pairs (`--pairs`, 3):
    the machine's speed drifts within minutes, so the ratio is the median of the pairs' ratios;
- Taipan's MFU on configs/bench-130m.toml, against the sgemm GFLOP/s of the same Taipan run;
- greedy decoding, batch 1, with the 130M architecture and random weights: `transformers`'
  `generate` with its cache against `taipan bench generate`, in float32, in bfloat16 (the
  model `.to(torch.bfloat16)`; Taipan's `--weights bfloat16`) and with int8 weights (PyTorch's
  dynamic quantisation, `torch.ao.quantization.quantize_dynamic`, of every `nn.Linear` but
  `dt_proj`; Taipan's `--weights int8`), each Taipan run right after the peer it is compared
  with. Both count decode only: Taipan times the steps after its prefill;
  for `generate`, a streamer stamps the time of every new token and the rate is
  (new tokens − 1) / (last stamp − first stamp), leaving out the prefill.

Mamba-2 (issue 14), after the Mamba rows, with `--mamba2` (`--mamba2-only` skips the rest):
- training step on configs/bench-small-mamba2.toml: `transformers`' `Mamba2ForCausalLM` (its
  pure-PyTorch SSD path, `torch_forward`) alternated with `taipan bench train` in pairs, the
  ratio the median of the pairs'; then torch's own matmul (a 2048³ `torch.mm`), and what the
  2× target asks of the machine: the peer's rate in GFLOP/s at Taipan's count of the model's
  work per token, twice that as a share of Taipan's sgemm (over 100% means out of reach here);
- Taipan's MFU on configs/bench-130m-mamba2.toml against the same run's sgemm;
- the machine's memory read bandwidth (`torch.sum` over 512 MiB, median of 5, in a worker of its
  own) and the rate at which `taipan bench generate` reads its float32 weights when decoding the
  130M Mamba-2 and Mamba models, alternated in pairs (`--pairs`), the ratio the median of the
  pairs' (the bandwidth drifts by 10% within minutes).

Prints one table (metric, Taipan, peer, ratio, target, met?) and writes it as markdown.

Usage: compare_pytorch.py --taipan BINARY [--threads 2] [--out benchmarks/results-latest.md] ...
       compare_pytorch.py worker KIND CONFIG [options]   (one PyTorch measurement; prints JSON)
"""

import argparse
import ctypes
import datetime
import fnmatch
import importlib.metadata
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

from taipan_config import read_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = "configs/bench-small.toml"
LARGE = "configs/bench-130m.toml"
SMALL2 = "configs/bench-small-mamba2.toml"
LARGE2 = "configs/bench-130m-mamba2.toml"


class ConfigError(Exception):
    pass


def load_shape(path):
    """The model, batch and optimizer of a Taipan TOML config, with Taipan's defaults for the
    keys it leaves out (Sources/TaipanTrain/TrainConfig.swift)."""
    document = read_config(path, ConfigError)
    model, data = document.get("model", {}), document.get("data", {})
    train, optimizer = document.get("train", {}), document.get("optimizer", {})
    if model.get("vocab_size", 0) <= 0:
        raise ConfigError(f"{path}: model.vocab_size must be set (the benchmarks use random tokens)")
    rank = model.get("time_step_rank", "auto")
    return {
        "architecture": model.get("architecture", "mamba"),
        "head_dim": model.get("head_dim", 64),
        "groups": model.get("n_groups", 1),
        "chunk": model.get("chunk_size", 256),
        "vocab": model["vocab_size"],
        "hidden": model.get("hidden_size", 256),
        "layers": model.get("num_hidden_layers", 4),
        "state": model.get("state_size", 16),
        "expand": model.get("expand", 2),
        "kernel": model.get("conv_kernel", 4),
        "rank": rank,
        "bias": model.get("use_bias", False),
        "conv_bias": model.get("use_conv_bias", True),
        "epsilon": model.get("layer_norm_epsilon", 1e-5),
        "initializer_range": model.get("initializer_range", 0.02),
        "length": data.get("sequence_length", 256),
        "batch": train.get("batch_size", 8),
        "seed": train.get("seed", 0),
        "learning_rate": optimizer.get("learning_rate", 6e-4),
        "betas": (optimizer.get("beta1", 0.9), optimizer.get("beta2", 0.95)),
        "adam_epsilon": optimizer.get("epsilon", 1e-8),
        "weight_decay": optimizer.get("weight_decay", 0.1),
        "no_decay": optimizer.get("no_decay", ["*.A_log", "*.D", "*bias", "*norm*"]),
        "clip": optimizer.get("gradient_clip", 1.0),
    }


# ---------------------------------------------------------------------------------------------
# Workers: one PyTorch measurement each, in a process of its own.

def resident_mib():
    """The resident memory of this process now, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_resident_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mambapy_model(shape):
    """Embedding → mambapy's residual Mamba blocks (RMSNorm inside) → RMSNorm → tied head."""
    import torch
    import torch.nn.functional as F
    from mambapy.mamba import Mamba, MambaConfig, RMSNorm

    class TiedMambaLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            config = MambaConfig(
                d_model=shape["hidden"], n_layers=shape["layers"], d_state=shape["state"],
                expand_factor=shape["expand"], d_conv=shape["kernel"], dt_rank=shape["rank"],
                rms_norm_eps=shape["epsilon"], bias=shape["bias"], conv_bias=shape["conv_bias"], pscan=True)
            self.embeddings = torch.nn.Embedding(shape["vocab"], shape["hidden"])
            torch.nn.init.normal_(self.embeddings.weight, std=shape["initializer_range"])
            self.backbone = Mamba(config)
            self.norm_f = RMSNorm(shape["hidden"], shape["epsilon"])

        def forward(self, tokens):
            hidden = self.norm_f(self.backbone(self.embeddings(tokens)))
            return F.linear(hidden, self.embeddings.weight)

    return TiedMambaLM()


def transformers_config(shape):
    import transformers

    return transformers.MambaConfig(
        vocab_size=shape["vocab"], hidden_size=shape["hidden"], num_hidden_layers=shape["layers"],
        state_size=shape["state"], expand=shape["expand"], conv_kernel=shape["kernel"],
        time_step_rank=shape["rank"], use_bias=shape["bias"], use_conv_bias=shape["conv_bias"],
        layer_norm_epsilon=shape["epsilon"], initializer_range=shape["initializer_range"],
        tie_word_embeddings=True, use_mambapy=False)


def transformers2_config(shape):
    import transformers

    inner = shape["expand"] * shape["hidden"]
    return transformers.Mamba2Config(
        vocab_size=shape["vocab"], hidden_size=shape["hidden"], num_hidden_layers=shape["layers"],
        state_size=shape["state"], expand=shape["expand"], conv_kernel=shape["kernel"],
        head_dim=shape["head_dim"], num_heads=inner // shape["head_dim"], n_groups=shape["groups"],
        chunk_size=shape["chunk"], use_bias=shape["bias"], use_conv_bias=shape["conv_bias"],
        layer_norm_epsilon=shape["epsilon"], initializer_range=shape["initializer_range"],
        tie_word_embeddings=True)


def bandwidth_worker(mebibytes=512, runs=5):
    """Memory read bandwidth: the median rate of `torch.sum` over a float32 buffer of `mebibytes`."""
    import torch

    values = torch.ones(mebibytes * 1024 * 1024 // 4)
    values.sum()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        values.sum()
        times.append(time.perf_counter() - start)
    return {"gb_per_second": values.numel() * 4 / statistics.median(times) / 1e9, "peak_rss_mib": peak_resident_mib()}


def matmul_worker(size=2048, runs=10):
    """torch's own float32 matrix product (its BLAS): the median GFLOP/s of a size³ `torch.mm`."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return {"gflops": 2 * size ** 3 / statistics.median(times) / 1e9, "peak_rss_mib": peak_resident_mib()}


def train_worker(kind, shape, steps, warmup):
    """Median seconds of the training step of `kind` ("mambapy" or "transformers")."""
    import torch
    import torch.nn.functional as F

    baseline = resident_mib()
    torch.manual_seed(shape["seed"])
    if kind == "mambapy":
        model = mambapy_model(shape)

        def logits_of(inputs):
            return model(inputs)
    else:
        import transformers

        if shape["architecture"] == "mamba2":
            model = transformers.Mamba2ForCausalLM(transformers2_config(shape))
        else:
            model = transformers.MambaForCausalLM(transformers_config(shape))

        def logits_of(inputs):
            return model(input_ids=inputs, use_cache=False).logits
    model.train()
    named = list(model.named_parameters())
    decayed = [p for n, p in named if not any(fnmatch.fnmatchcase(n, pattern) for pattern in shape["no_decay"])]
    exempt = [p for n, p in named if any(fnmatch.fnmatchcase(n, pattern) for pattern in shape["no_decay"])]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": shape["weight_decay"]}, {"params": exempt, "weight_decay": 0.0}],
        lr=shape["learning_rate"], betas=shape["betas"], eps=shape["adam_epsilon"])
    batch, length, vocab = shape["batch"], shape["length"], shape["vocab"]
    times = []
    for index in range(warmup + steps):
        window = torch.randint(0, vocab, (batch, length + 1))
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = logits_of(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), window[:, 1:].reshape(-1))
        loss.backward()
        if shape["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), shape["clip"])
        optimizer.step()
        elapsed = time.perf_counter() - start
        if index >= warmup:
            times.append(elapsed)
        print(f"  {kind} step {index + 1}/{warmup + steps}: {elapsed * 1e3:.0f} ms, loss {loss.item():.3f}",
              file=sys.stderr, flush=True)
    step = statistics.median(times)
    return {
        "tokens_per_second": batch * length / step, "step_ms": step * 1e3, "steps": steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "peak_rss_mib": peak_resident_mib(), "baseline_rss_mib": baseline,
    }


def generate_worker(shape, prompt_tokens, new_tokens, runs, dtype):
    """Decode tokens/s of `transformers`' greedy `generate` with its cache, batch 1, with the
    model in `dtype`: float32 (its default), bfloat16, or int8 (float32 with the `nn.Linear`s
    replaced by PyTorch's dynamically quantised int8 linear)."""
    import torch
    import transformers
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        """Stamps the time of every `put`: the first is the prompt, then one per new token."""

        def __init__(self):
            self.stamps = []

        def put(self, value):
            self.stamps.append(time.perf_counter())

        def end(self):
            pass

    baseline = resident_mib()
    torch.manual_seed(shape["seed"])
    model = transformers.MambaForCausalLM(transformers_config(shape)).eval()
    if dtype == "int8":
        # Every nn.Linear but dt_proj, whose weight transformers' CPU path multiplies directly (a
        # quantised module has no weight tensor); dt_proj is 1.4 % of the matrices' bytes.
        names = {name: torch.ao.quantization.default_dynamic_qconfig for name, module in model.named_modules()
                 if isinstance(module, torch.nn.Linear) and not name.endswith("dt_proj")}
        model = torch.ao.quantization.quantize_dynamic(model, names, dtype=torch.qint8)

        class QuantizedHead(torch.nn.Module):
            """The quantised lm_head with the `weight.dtype` that transformers reads (float32)."""

            def __init__(self, quantized):
                super().__init__()
                self.quantized = quantized
                self.weight = torch.empty(0)

            def forward(self, hidden):
                return self.quantized(hidden)

        model.lm_head = QuantizedHead(model.lm_head)
    else:
        model = model.to(getattr(torch, dtype))
    # Ids from 1 up: 0 is the config's end-of-sequence id.
    prompt = torch.randint(1, shape["vocab"], (1, prompt_tokens))

    def run(tokens):
        clock = Clock()
        start = time.perf_counter()
        output = model.generate(
            input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=tokens,
            min_new_tokens=tokens, do_sample=False, use_cache=True, pad_token_id=0, streamer=clock)
        total = time.perf_counter() - start
        if output.shape[1] != prompt_tokens + tokens or len(clock.stamps) != tokens + 1:
            raise RuntimeError(f"generate returned {output.shape[1] - prompt_tokens} new tokens, asked for {tokens}")
        return (tokens - 1) / (clock.stamps[-1] - clock.stamps[1]), tokens / total

    run(min(new_tokens, 4))
    rates = [run(new_tokens) for _ in range(runs)]
    return {
        "tokens_per_second": statistics.median(r[0] for r in rates),
        "with_prefill_tokens_per_second": statistics.median(r[1] for r in rates),
        "peak_rss_mib": peak_resident_mib(), "baseline_rss_mib": baseline,
    }


def worker_main(argv):
    parser = argparse.ArgumentParser(prog="compare_pytorch.py worker")
    parser.add_argument("kind", choices=["mambapy-train", "transformers-train", "transformers-generate", "bandwidth", "matmul"])
    parser.add_argument("config")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "int8"], default="float32")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    shape = load_shape(args.config)
    if args.kind == "transformers-generate":
        result = generate_worker(shape, args.prompt, args.tokens, args.runs, args.dtype)
    elif args.kind == "bandwidth":
        result = bandwidth_worker()
    elif args.kind == "matmul":
        result = matmul_worker()
    else:
        result = train_worker(args.kind.removesuffix("-train"), shape, args.steps, args.warmup)
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The driver: runs every measurement, then prints and writes the table.

class Failure(Exception):
    pass


# The 1-minute load average as each measurement started: other processes on the cores show here.
LOAD_AT_START = {}


def run_and_parse(name, command, timeout):
    """Runs `command` (its stderr goes to ours as progress) and returns its last RESULT line."""
    LOAD_AT_START[name] = os.getloadavg()[0]
    print(f"== {name} (load average {LOAD_AT_START[name]:.2f}): {' '.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise Failure(f"{name}: no result after {timeout} s") from error
    except OSError as error:
        raise Failure(f"{name}: cannot run {command[0]}: {error.strerror}") from error
    sys.stderr.write(completed.stdout)
    print(f"   ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    if completed.returncode != 0:
        raise Failure(f"{name}: exited with status {completed.returncode}")
    results = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if not results:
        raise Failure(f"{name}: printed no RESULT line")
    return results[-1][len("RESULT "):]


def python_measurement(name, kind, config, threads, timeout, **options):
    command = [sys.executable, os.path.abspath(__file__), "worker", kind, config, f"--threads={threads}"]
    command += [f"--{key}={value}" for key, value in options.items()]
    text = run_and_parse(name, command, timeout)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(f"{name}: unreadable RESULT line: {text!r}") from error


def taipan_measurement(name, arguments, timeout):
    text = run_and_parse(name, arguments, timeout)
    fields = {}
    for item in text.split():
        key, _, value = item.partition("=")
        try:
            fields[key] = float(value)
        except ValueError as error:
            raise Failure(f"{name}: unreadable RESULT field {item!r}") from error
    return fields


def openblas_version(binary):
    """`openblas_get_config()` of the libopenblas the Taipan binary loads, or why not."""
    try:
        linked = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (ldd failed)"
    match = re.search(r"libopenblas\S*\s*=>\s*(\S+)", linked) or re.search(r"(\S*libblas\S*)\s*=>\s*(\S+)", linked)
    if not match:
        return "not linked"
    path = match.group(match.lastindex)
    try:
        library = ctypes.CDLL(os.path.realpath(path))
        library.openblas_get_config.restype = ctypes.c_char_p
        return f"{library.openblas_get_config().decode()} ({os.path.realpath(path)})"
    except (OSError, AttributeError):
        return os.path.realpath(path)


def machine_lines(binary, threads):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    def version(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    versions = f"torch {torch.__version__}, " + ", ".join(
        f"{package} {version(package)}" for package in ("mambapy", "transformers"))

    return [
        f"CPU: {model}, {os.cpu_count()} cores; threads used: {threads} (Taipan --threads, torch.set_num_threads)",
        f"Python {platform.python_version()}: {versions}; torch BLAS: "
        + ("MKL" if torch.backends.mkl.is_available() else "not MKL"),
        f"Taipan's BLAS: {openblas_version(binary)}",
    ]


def format_number(value, unit=""):
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.3g}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"


def row(metric, ours, peer, ratio, target, comparison, unit=""):
    """One table row; `comparison` tells how `ratio` meets `target` ("≥", "≤", or None)."""
    met = "—"
    if comparison and ratio is not None:
        met = "yes" if (ratio >= target if comparison == "≥" else ratio <= target) else "no"
    return [metric, format_number(ours, unit), format_number(peer, unit),
            "—" if ratio is None else f"{ratio:.2f}×",
            f"{comparison} {target:g}×" if comparison else "—", met]


def summarize(results, memory):
    """One result from several runs: the median of every number, but the peak memory, which
    `memory` (min or max) picks."""
    if not results:
        return None
    keys = [key for key in results[0] if all(isinstance(result.get(key), (int, float)) for result in results)]
    summary = {key: statistics.median(result[key] for result in results) for key in keys}
    summary["peak_rss_mib"] = memory(result["peak_rss_mib"] for result in results)
    return summary


def ratio_of(a, b):
    return None if a is None or b is None or b == 0 else a / b


def driver_main(argv):
    parser = argparse.ArgumentParser(prog="compare_pytorch.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--taipan", required=True, help="the taipan executable (release build)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results-latest.md")
    parser.add_argument("--mambapy-steps", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=3,
                        help="pairs of measurements alternated back to back: mambapy and Taipan on bench-small, transformers and Taipan on "
                             "bench-small-mamba2, bandwidth and decoding (each ratio is the median of its pairs')")
    parser.add_argument("--transformers-steps", type=int, default=3)
    parser.add_argument("--transformers-warmup", type=int, default=0,
                        help="untimed transformers steps first (each takes minutes; their one-time costs are small beside that)")
    parser.add_argument("--taipan-steps", type=int, default=20)
    parser.add_argument("--large-steps", type=int, default=5)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--generate-runs", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=900, help="seconds each measurement may take")
    parser.add_argument("--skip-training", action="store_true", help="measure decoding only (the training rows stay empty)")
    parser.add_argument("--mamba2", action="store_true", help="also the Mamba-2 rows (issue 14)")
    parser.add_argument("--mamba2-only", action="store_true", help="only the Mamba-2 rows")
    args = parser.parse_args(argv)
    for name in ("threads", "mambapy_steps", "pairs", "transformers_steps", "taipan_steps", "large_steps", "prompt", "tokens", "generate_runs", "timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.transformers_warmup < 0:
        parser.error("--transformers-warmup must be at least 0")
    if not os.access(args.taipan, os.X_OK):
        parser.error(f"--taipan {args.taipan}: not an executable file")
    for path in (SMALL, LARGE, SMALL2, LARGE2):
        load_shape(path)  # a bad config stops the run before minutes of measuring, not after

    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1) - 0.5:
        print(f"warning: load average {load_before:.2f} on {os.cpu_count()} cores: other processes share the cores, "
              "and the numbers (PyTorch's OpenMP threads most) will suffer", file=sys.stderr)
    threads, timeout, taipan = args.threads, args.timeout, args.taipan
    failures = []

    def attempt(measure):
        try:
            return measure()
        except Failure as failure:
            print(f"error: {failure}", file=sys.stderr)
            failures.append(str(failure))
            return None

    mambapy = hf_train = taipan_small = taipan_large = None
    pair_ratios = []
    if not args.skip_training and not args.mamba2_only:
        # mambapy and Taipan's bench-small alternate, each pair back to back: the machine's speed
        # drifts by 10-20 % within minutes, so each ratio is taken within a pair and the table
        # gives the median of the pairs' ratios (and the median of each side's tokens/s).
        mambapy_runs, taipan_runs = [], []
        for pair in range(1, args.pairs + 1):
            theirs = attempt(lambda: python_measurement(
                f"mambapy training step, pair {pair}", "mambapy-train", SMALL, threads, timeout,
                steps=args.mambapy_steps, warmup=2))
            ours = attempt(lambda: taipan_measurement(
                f"Taipan training step, bench-small, pair {pair}",
                [taipan, "bench", "train", "--config", SMALL, "--steps", str(args.taipan_steps), "--threads", str(threads)], timeout))
            if theirs is not None and ours is not None and theirs.get("tokens_per_second"):
                mambapy_runs.append(theirs)
                taipan_runs.append(ours)
                pair_ratios.append(ours["tokens_per_second"] / theirs["tokens_per_second"])
        # Peak memory: Taipan's largest against mambapy's smallest.
        mambapy = summarize(mambapy_runs, memory=min)
        taipan_small = summarize(taipan_runs, memory=max)
        hf_train = attempt(lambda: python_measurement(
            "transformers training step", "transformers-train", SMALL, threads, timeout,
            steps=args.transformers_steps, warmup=args.transformers_warmup))
        taipan_large = attempt(lambda: taipan_measurement(
            "Taipan training step, bench-130m",
            [taipan, "bench", "train", "--config", LARGE, "--steps", str(args.large_steps), "--warmup", "1", "--threads", str(threads)], timeout))
    # Decoding in both precisions, each Taipan run right after the peer it is compared with.
    generate = dict.fromkeys((side, dtype) for side in ("transformers", "taipan") for dtype in ("float32", "bfloat16", "int8"))
    for dtype in () if args.mamba2_only else ("float32", "bfloat16", "int8"):
        generate["transformers", dtype] = attempt(lambda: python_measurement(
            f"transformers generate, {dtype}", "transformers-generate", LARGE, threads, timeout,
            prompt=args.prompt, tokens=args.tokens, runs=args.generate_runs, dtype=dtype))
        generate["taipan", dtype] = attempt(lambda: taipan_measurement(
            f"Taipan generate, {dtype}",
            [taipan, "bench", "generate", "--config", LARGE, "--prompt", str(args.prompt), "--tokens", str(args.tokens),
             "--runs", str(args.generate_runs), "--threads", str(threads), "--weights", dtype], timeout))
    def get(result, key):
        return None if result is None else result.get(key)

    mamba2_rows, mamba2_details = [], []
    if args.mamba2 or args.mamba2_only:
        hf2_runs, taipan2_runs, ratios2 = [], [], []
        for pair in range(1, args.pairs + 1):
            theirs = attempt(lambda: python_measurement(
                f"transformers Mamba2 training step, pair {pair}", "transformers-train", SMALL2, threads, timeout,
                steps=args.transformers_steps, warmup=1))
            ours = attempt(lambda: taipan_measurement(
                f"Taipan training step, bench-small-mamba2, pair {pair}",
                [taipan, "bench", "train", "--config", SMALL2, "--steps", str(args.taipan_steps), "--threads", str(threads)], timeout))
            if theirs is not None and ours is not None and theirs.get("tokens_per_second"):
                hf2_runs.append(theirs)
                taipan2_runs.append(ours)
                ratios2.append(ours["tokens_per_second"] / theirs["tokens_per_second"])
        hf2, taipan2 = summarize(hf2_runs, memory=min), summarize(taipan2_runs, memory=max)
        torch_matmul = attempt(lambda: python_measurement(
            "torch matmul 2048³ (the peer's BLAS)", "matmul", SMALL2, threads, timeout))
        taipan2_large = attempt(lambda: taipan_measurement(
            "Taipan training step, bench-130m-mamba2",
            [taipan, "bench", "train", "--config", LARGE2, "--steps", str(args.large_steps), "--warmup", "1", "--threads", str(threads)], timeout))
        # The machine's bandwidth drifts by 10% within minutes, so bandwidth and decoding are
        # alternated in pairs and the ratio is the median of the pairs'.
        decoding, decoding_ratios = {}, {}
        for name, config in (("mamba2", LARGE2), ("mamba", LARGE)):
            memories, decodes, decoding_ratios[name] = [], [], []
            for pair in range(1, args.pairs + 1):
                memory = attempt(lambda: python_measurement(
                    f"memory read bandwidth, before {name} decoding, pair {pair}", "bandwidth", config, threads, timeout))
                decode = attempt(lambda: taipan_measurement(
                    f"Taipan generate, {name} 130M, float32, pair {pair}",
                    [taipan, "bench", "generate", "--config", config, "--prompt", str(args.prompt), "--tokens", str(args.tokens),
                     "--runs", str(args.generate_runs), "--threads", str(threads), "--weights", "float32"], timeout))
                if memory is not None and decode is not None and memory.get("gb_per_second"):
                    memories.append(memory)
                    decodes.append(decode)
                    decoding_ratios[name].append(decode["weight_gb_per_second"] / memory["gb_per_second"])
            decoding[name, "memory"] = summarize(memories, memory=min)
            decoding[name, "taipan"] = summarize(decodes, memory=max)
        mfu2, sgemm2 = get(taipan2_large, "mfu"), get(taipan2_large, "sgemm_gflops")
        ours2 = get(taipan2, "tokens_per_second")
        mamba2_rows = [
            row("bench-small-mamba2 training, tokens/s (vs transformers Mamba2ForCausalLM)", ours2, get(hf2, "tokens_per_second"),
                statistics.median(ratios2) if ratios2 else None, 2, "≥"),
            row("bench-130m-mamba2 training GFLOP/s (vs sgemm of the same run: MFU)",
                None if mfu2 is None else mfu2 * sgemm2, sgemm2, mfu2, 0.55, "≥"),
        ]
        for name in ("mamba2", "mamba"):
            read = get(decoding[name, "taipan"], "weight_gb_per_second")
            memory = get(decoding[name, "memory"], "gb_per_second")
            ratios = decoding_ratios[name]
            mamba2_rows.append(row(
                f"130M {'Mamba-2' if name == 'mamba2' else 'Mamba'} decoding, float32 weights read, GB/s (vs memory read bandwidth)",
                read, memory, statistics.median(ratios) if ratios else None, 0.8, "≥"))
        # What the 2× target asks of this machine: the model's work per token (Taipan's count,
        # MFU × sgemm / tokens/s) at twice the peer's tokens/s, as a share of the sgemm rate.
        work = statistics.median(run["mfu"] * run["sgemm_gflops"] / run["tokens_per_second"]
                                 for run in taipan2_runs) if taipan2_runs else None
        peer_rate = None if work is None or hf2 is None else work * get(hf2, "tokens_per_second")
        mamba2_details = [
            f"bench-small-mamba2 work: {format_number(None if work is None else work * 1e3)} MFLOP/token; at that count "
            f"transformers computed {format_number(peer_rate)} GFLOP/s, "
            f"{format_number(None if peer_rate is None else 100 * peer_rate / get(taipan2, 'sgemm_gflops'))}% of Taipan's sgemm "
            f"({format_number(get(taipan2, 'sgemm_gflops'))} GFLOP/s; torch's own matmul {format_number(get(torch_matmul, 'gflops'))} GFLOP/s), "
            f"so 2× transformers needs Taipan at "
            f"{format_number(None if peer_rate is None else 200 * peer_rate / get(taipan2, 'sgemm_gflops'))}% of sgemm",
            f"bench-small-mamba2 against transformers, {len(ratios2)} pairs (transformers, then Taipan): ratios "
            + ", ".join(f"{ratio:.2f}×" for ratio in ratios2)
            + f"; transformers step {format_number(get(hf2, 'step_ms'))} ms, Taipan step {format_number(get(taipan2, 'step_ms'))} ms, "
            f"peak RSS Taipan {format_number(get(taipan2, 'peak_rss_mib'))} MiB, transformers {format_number(get(hf2, 'peak_rss_mib'))} MiB",
            f"Taipan bench-130m-mamba2: step {format_number(get(taipan2_large, 'step_ms'))} ms, "
            f"{format_number(get(taipan2_large, 'tokens_per_second'))} tokens/s, peak RSS {format_number(get(taipan2_large, 'peak_rss_mib'))} MiB",
            "130M decoding, float32: Mamba-2 " + format_number(get(decoding['mamba2', 'taipan'], 'tokens_per_second'))
            + " tokens/s, Mamba " + format_number(get(decoding['mamba', 'taipan'], 'tokens_per_second')) + " tokens/s; "
            + "; ".join(f"{label} against the bandwidth, {len(decoding_ratios[name])} pairs (bandwidth, then decoding): ratios "
                        + ", ".join(f"{ratio:.2f}×" for ratio in decoding_ratios[name])
                        for name, label in (("mamba2", "Mamba-2"), ("mamba", "Mamba"))),
        ]
    load_after = os.getloadavg()

    ours_small = get(taipan_small, "tokens_per_second")
    ours_memory = get(taipan_small, "peak_rss_mib")
    mfu, sgemm = get(taipan_large, "mfu"), get(taipan_large, "sgemm_gflops")
    def decode(side, dtype):
        return get(generate[side, dtype], "tokens_per_second")

    rows = [
        row("bench-small training, tokens/s (vs mambapy)", ours_small, get(mambapy, "tokens_per_second"),
            statistics.median(pair_ratios) if pair_ratios else None, 10, "≥"),
        row("bench-small training, tokens/s (vs transformers)", ours_small, get(hf_train, "tokens_per_second"),
            ratio_of(ours_small, get(hf_train, "tokens_per_second")), 0, None),
        row("bench-small peak RSS, MiB (vs mambapy)", ours_memory, get(mambapy, "peak_rss_mib"),
            ratio_of(ours_memory, get(mambapy, "peak_rss_mib")), 0.5, "≤"),
        row("bench-small peak RSS, MiB (vs transformers)", ours_memory, get(hf_train, "peak_rss_mib"),
            ratio_of(ours_memory, get(hf_train, "peak_rss_mib")), 0, None),
        row("bench-130m training GFLOP/s (vs sgemm of the same run: MFU)",
            None if mfu is None else mfu * sgemm, sgemm, mfu, 0.5, "≥"),
        row("130M greedy decoding, float32, tokens/s (vs transformers generate, float32)", decode("taipan", "float32"),
            decode("transformers", "float32"), ratio_of(decode("taipan", "float32"), decode("transformers", "float32")), 5, "≥"),
        row("130M greedy decoding, bfloat16, tokens/s (vs transformers generate, bfloat16)", decode("taipan", "bfloat16"),
            decode("transformers", "bfloat16"), ratio_of(decode("taipan", "bfloat16"), decode("transformers", "bfloat16")), 5, "≥"),
        row("130M greedy decoding, int8 weights, tokens/s (vs transformers generate, dynamic int8)", decode("taipan", "int8"),
            decode("transformers", "int8"), ratio_of(decode("taipan", "int8"), decode("transformers", "int8")), 5, "≥"),
        row("130M greedy decoding, Taipan bfloat16 (vs transformers generate, float32: its default)", decode("taipan", "bfloat16"),
            decode("transformers", "float32"), ratio_of(decode("taipan", "bfloat16"), decode("transformers", "float32")), 5, "≥"),
        row("130M greedy decoding, Taipan int8 (vs transformers generate, float32: its default)", decode("taipan", "int8"),
            decode("transformers", "float32"), ratio_of(decode("taipan", "int8"), decode("transformers", "float32")), 5, "≥"),
    ]
    if args.mamba2_only:
        rows = []
    rows += mamba2_rows
    header = ["metric", "Taipan", "peer", "ratio", "target", "met?"]

    widths = [max(len(line[column]) for line in [header] + rows) for column in range(len(header))]
    print()
    for line in [header] + rows:
        print("  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                        for column, (cell, width) in enumerate(zip(line, widths))))

    details = [
        f"bench-small against mambapy, {len(pair_ratios)} pairs back to back (mambapy, then Taipan): ratios "
        + ", ".join(f"{ratio:.2f}×" for ratio in pair_ratios) + "; tokens/s and memory below are the pairs' medians "
        "(peak memory: Taipan's largest, mambapy's smallest)",
        f"mambapy: step {format_number(get(mambapy, 'step_ms'))} ms (median of {args.mambapy_steps} after 2 warm-up), "
        f"RSS after importing torch {format_number(get(mambapy, 'baseline_rss_mib'))} MiB",
        f"transformers: step {format_number(get(hf_train, 'step_ms'))} ms (median of {args.transformers_steps} after {args.transformers_warmup} warm-up), "
        f"RSS after importing torch {format_number(get(hf_train, 'baseline_rss_mib'))} MiB",
        f"Taipan bench-small: step {format_number(get(taipan_small, 'step_ms'))} ms (median of {args.taipan_steps} after 2 warm-up), "
        f"MFU {format_number(None if get(taipan_small, 'mfu') is None else 100 * get(taipan_small, 'mfu'))}% "
        f"of sgemm {format_number(get(taipan_small, 'sgemm_gflops'))} GFLOP/s",
        f"Taipan bench-130m: step {format_number(get(taipan_large, 'step_ms'))} ms (median of {args.large_steps} after 1 warm-up), "
        f"{format_number(get(taipan_large, 'tokens_per_second'))} tokens/s, peak RSS {format_number(get(taipan_large, 'peak_rss_mib'))} MiB",
        f"generation: prompt {args.prompt}, {args.tokens} new tokens, median of {args.generate_runs}; transformers with its prefill "
        f"{format_number(get(generate['transformers', 'float32'], 'with_prefill_tokens_per_second'))} (float32) and "
        f"{format_number(get(generate['transformers', 'bfloat16'], 'with_prefill_tokens_per_second'))} (bfloat16) and "
        f"{format_number(get(generate['transformers', 'int8'], 'with_prefill_tokens_per_second'))} (int8) tokens/s; "
        f"Taipan read its weights at {format_number(get(generate['taipan', 'float32'], 'weight_gb_per_second'))} (float32) and "
        f"{format_number(get(generate['taipan', 'bfloat16'], 'weight_gb_per_second'))} (bfloat16) and "
        f"{format_number(get(generate['taipan', 'int8'], 'weight_gb_per_second'))} (int8) GB/s; peak RSS Taipan "
        f"{format_number(get(generate['taipan', 'float32'], 'peak_rss_mib'))} / {format_number(get(generate['taipan', 'bfloat16'], 'peak_rss_mib'))} / "
        f"{format_number(get(generate['taipan', 'int8'], 'peak_rss_mib'))} MiB, "
        f"transformers {format_number(get(generate['transformers', 'float32'], 'peak_rss_mib'))} / "
        f"{format_number(get(generate['transformers', 'bfloat16'], 'peak_rss_mib'))} / "
        f"{format_number(get(generate['transformers', 'int8'], 'peak_rss_mib'))} MiB (float32 / bfloat16 / int8)",
        f"load average ({os.cpu_count()} cores) as each measurement started: "
        + ", ".join(f"{name} {load:.2f}" for name, load in LOAD_AT_START.items()) + f"; at the end {load_after[0]:.2f}",
    ]
    machine = machine_lines(taipan, threads)
    details = ([] if args.mamba2_only else details) + mamba2_details
    for line in machine + details:
        print(line)

    markdown = [f"# Taipan vs PyTorch — {started:%Y-%m-%d %H:%M %Z}", ""]
    markdown += ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + [":---:"]) + "|"]
    markdown += ["| " + " | ".join(line) + " |" for line in rows]
    markdown += [""] + [f"- {line}" for line in machine + details]
    if failures:
        markdown += [""] + [f"- **failed**: {failure}" for failure in failures]
    path = os.path.join(ROOT, args.out)
    with open(path + ".partial", "w") as file:
        file.write("\n".join(markdown) + "\n")
    os.replace(path + ".partial", path)
    print(f"wrote {os.path.relpath(path, ROOT)}")
    if failures:
        print(f"error: {len(failures)} measurement(s) failed", file=sys.stderr)
        return 1
    return 0


def main():
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "worker":
            worker_main(sys.argv[2:])
            return 0
        return driver_main(sys.argv[1:])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
