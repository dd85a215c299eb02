"""check_transformers.py — checks that Taipan's Mamba and Mamba-2 models move freely to and from
Hugging Face `transformers` (`MambaForCausalLM`, `Mamba2ForCausalLM`), in both directions, on
several configurations. The fixture config given (model_type "mamba" or "mamba2") says which.

Taipan → transformers: `taipan model init` writes a model directory; transformers loads it and
must log no warning about missing, unexpected or mismatched weights. Fresh weights are not
enough: transformers runs initialisation rules while it loads, and a rule that touches loaded
weights (rescale_prenorm_residual once divided every out_proj by √layers) leaves a fresh model
looking right. So checkpoints that `taipan train` wrote after real training steps (a quickstart-
sized model and an odd-sized one with biases and an untied head) are checked too.
transformers → Taipan: a randomly initialised `MambaForCausalLM` is written with
`save_pretrained` (float32 in one file or in shards; bfloat16; float16) and `taipan model info` must read it.
Every parameter is first nudged by noise (std 0.2): a tensor Taipan failed to load could then not
pass by matching Taipan's own initialisation, and the mixers weigh enough against the tied
embedding that greedy decoding does not just repeat the last token (as freshly initialised tied
models do, so the generation check of the other direction is weaker).

Either way the same random input_ids (B=2, L=33) go through transformers in float64 and through
`taipan model forward --grads`; logits, every hidden state, the loss and every parameter
gradient must agree within a relative error max|a−b| / max|b| ≤ 1e-4 (b: transformers), and 10
greedily generated tokens must be identical. Prints a table; exits 1 on any failure.

transformers (5.x) rounds through float32 inside a float64 model: RMSNorm, the reference scan, the
residual (residual_in_fp32) and the logits. The logits and the loss here come from the head
applied to the last hidden state, in float64; the rest of the reference is float32-accurate,
well below the tolerance.

For Mamba-2 the trained checkpoint is one of `configs/quickstart-mamba2.toml` itself (24 steps on
byte tokens), and transformers' reference scan (`torch_forward`'s chunked SSD) computes in
float32 even in a float64 model, which stays well inside the tolerance too.

Usage: check_transformers.py TAIPAN_BINARY FIXTURE_CONFIG_JSON WORK_DIRECTORY
"""

import copy
import json
import logging
import os
import re
import subprocess
import sys
import warnings

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file

TOLERANCE = 1e-4
BATCH, LENGTH = 2, 33
PROMPT_LENGTH, NEW_TOKENS = 5, 10
# What transformers says when a checkpoint and a model disagree about their weights.
WEIGHT_WARNING = re.compile(
    r"missing|unexpected|mismatch|newly initiali[sz]ed|not initiali[sz]ed|not used|were not", re.IGNORECASE)


# "mamba" or "mamba2", from the fixture's model_type (set in main).
ARCHITECTURE = "mamba"


def model_class():
    return transformers.Mamba2ForCausalLM if ARCHITECTURE == "mamba2" else transformers.MambaForCausalLM


def config_class():
    return transformers.Mamba2Config if ARCHITECTURE == "mamba2" else transformers.MambaConfig


def mamba2_variations(base):
    """As `variations`, for Mamba-2: heads, groups, chunks that do not divide the length, a
    clamped time step."""
    def varied(**changes):
        config = copy.deepcopy(base)
        config.update(changes)
        config["num_heads"] = config["expand"] * config["hidden_size"] // config["head_dim"]
        return config

    return [
        ("fixture", varied()),
        ("use_bias", varied(use_bias=True)),
        ("no conv bias", varied(use_conv_bias=False)),
        ("untied head", varied(tie_word_embeddings=False)),
        ("state 5", varied(state_size=5)),
        ("conv 3", varied(conv_kernel=3)),
        ("head_dim 8", varied(head_dim=8)),
        ("1 group", varied(n_groups=1)),
        ("4 groups", varied(n_groups=4)),
        ("chunk 5", varied(chunk_size=5)),
        ("chunk 64", varied(chunk_size=64)),
        ("dt limit 0.05-0.3", varied(time_step_limit=[0.05, 0.3])),
        ("3 layers", varied(num_hidden_layers=3)),
        ("vocab 301", varied(vocab_size=301)),
        ("init range 0.01", varied(initializer_range=0.01)),
        ("all of the above", varied(
            hidden_size=40, head_dim=16, n_groups=1, use_bias=True, use_conv_bias=False,
            tie_word_embeddings=False, state_size=5, conv_kernel=3, num_hidden_layers=3, vocab_size=301,
            chunk_size=5)),
    ]


def variations(base):
    """(name, config dict) pairs: the fixture's config and variations of it, one change each,
    then all of them at once."""
    if ARCHITECTURE == "mamba2":
        return mamba2_variations(base)

    def varied(**changes):
        config = copy.deepcopy(base)
        config.update(changes)
        config["intermediate_size"] = config["expand"] * config["hidden_size"]
        return config

    return [
        ("fixture", varied()),
        ("hidden 40, rank auto", varied(hidden_size=40, time_step_rank="auto")),
        ("use_bias", varied(use_bias=True)),
        ("no conv bias", varied(use_conv_bias=False)),
        ("untied head", varied(tie_word_embeddings=False)),
        ("state 5", varied(state_size=5)),
        ("conv 3", varied(conv_kernel=3)),
        ("expand 3", varied(expand=3)),
        ("rank 7", varied(time_step_rank=7)),
        ("3 layers", varied(num_hidden_layers=3)),
        ("vocab 301", varied(vocab_size=301)),
        # Smaller embeddings weigh less against the mixers: greedy decoding of a fresh tied
        # model then does more than repeat the last token.
        ("init range 0.01", varied(initializer_range=0.01)),
        ("all of the above", varied(
            hidden_size=40, time_step_rank="auto", use_bias=True, use_conv_bias=False,
            tie_word_embeddings=False, state_size=5, conv_kernel=3, expand=3, num_hidden_layers=3,
            vocab_size=301)),
    ]


class WarningCollector(logging.Handler):
    """Keeps every record of WARNING or above that transformers logs."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def load_with_transformers(directory):
    """Loads `directory` with `from_pretrained` (Mamba or Mamba-2) in float32; returns the model
    and the problems with its weights (log records, Python warnings, loading info)."""
    collector = WarningCollector()
    library_logger = transformers.utils.logging.get_logger()
    library_logger.addHandler(collector)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, info = model_class().from_pretrained(
                directory, output_loading_info=True, dtype=torch.float32)
    finally:
        library_logger.removeHandler(collector)
    messages = collector.messages + [str(w.message) for w in caught]
    problems = [re.sub(r"\x1b\[[0-9;]*m", "", m) for m in messages if WEIGHT_WARNING.search(m)]
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            problems.append(f"{key}: {sorted(map(str, info[key]))}")
    return model, problems


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr.strip()}")
    return result.stdout


def relative_error(ours, reference):
    ours, reference = ours.double(), reference.double()
    if ours.shape != reference.shape:
        return float("inf")
    scale = reference.abs().max().item()
    difference = (ours - reference).abs().max().item()
    return difference / scale if scale > 0 else difference


def transformers_reference(model, ids):
    """Logits, hidden states, loss and gradients of `model` in float64 on `ids`, and its greedy
    continuation of the first prompt."""
    model = model.double()
    model.zero_grad(set_to_none=True)
    output = model(input_ids=ids, output_hidden_states=True, use_cache=False)
    # Mamba(2)ForCausalLM casts its logits to float32; the head applied to the final hidden state
    # (norm_f's output, float64) gives them, and so the loss and its gradients, in float64.
    logits = model.lm_head(output.hidden_states[-1])
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    gradients = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    # transformers' (and mamba_ssm's) one-token Mamba-2 step does not clamp Δ to time_step_limit
    # while their chunked forward does, so with a limit that binds, cached generation is not the
    # model's greedy continuation. Taipan's step clamps as its forward does; the reference is
    # then generation by full forwards (no cache).
    clamped = ARCHITECTURE == "mamba2" and tuple(model.config.time_step_limit) != (0.0, float("inf"))
    with torch.no_grad():
        # No eos: both sides generate exactly NEW_TOKENS tokens.
        model.generation_config.eos_token_id = None
        generated = model.generate(
            input_ids=ids[:1, :PROMPT_LENGTH], max_new_tokens=NEW_TOKENS, do_sample=False,
            eos_token_id=None, pad_token_id=0, use_cache=not clamped)
    return {
        "logits": logits.detach(),
        "model_logits": output.logits.detach(),
        "hidden": [h.detach() for h in output.hidden_states],
        "loss": loss.detach().reshape(1),
        "grads": gradients,
        "generated": generated[0].tolist(),
    }


def compare(taipan, directory, model, ids, work):
    """Runs `taipan model forward --grads` and `taipan generate` on `directory` and compares them
    with transformers' `model`; returns a row of the table."""
    reference = transformers_reference(model, ids)
    input_path, output_path = os.path.join(work, "input.safetensors"), os.path.join(work, "taipan.safetensors")
    save_file({"input_ids": ids.contiguous()}, input_path)
    run([taipan, "model", "forward", "--model", directory, "--input", input_path, "--output", output_path, "--grads"])
    ours = load_file(output_path)
    failures = []

    logits_error = relative_error(ours["logits"], reference["logits"])
    head_error = relative_error(reference["model_logits"], reference["logits"])
    if not head_error <= TOLERANCE:
        failures.append(f"transformers' own logits differ from its head on the last hidden state by {head_error:.2e}")
    loss_error = relative_error(ours["loss"], reference["loss"])
    hidden_names = sorted((k for k in ours if k.startswith("hidden.")), key=lambda k: int(k.split(".")[1]))
    if len(hidden_names) != len(reference["hidden"]):
        failures.append(f"taipan reports {len(hidden_names)} hidden states, transformers {len(reference['hidden'])}")
    hidden_errors = [relative_error(ours[f"hidden.{i}"], h) for i, h in enumerate(reference["hidden"]) if f"hidden.{i}" in ours]
    hidden_error = max(hidden_errors, default=float("inf"))

    our_grads = {k[len("grad."):]: v for k, v in ours.items() if k.startswith("grad.")}
    if set(our_grads) != set(reference["grads"]):
        failures.append(f"gradient names differ: only taipan {sorted(set(our_grads) - set(reference['grads']))}, "
                        f"only transformers {sorted(set(reference['grads']) - set(our_grads))}")
    grad_errors = {name: relative_error(our_grads[name], g) for name, g in reference["grads"].items() if name in our_grads}
    worst_grad = max(grad_errors, key=grad_errors.get, default=None)
    grad_error = grad_errors[worst_grad] if worst_grad else float("inf")

    prompt = ",".join(str(i) for i in ids[0, :PROMPT_LENGTH].tolist())
    generated_line = run([taipan, "generate", "--model", directory, "--ids", prompt,
                          "--max-new-tokens", str(NEW_TOKENS), "--stop", ""]).splitlines()[0]
    our_generated = [int(x) for x in generated_line.split(",")]
    same_generation = our_generated == reference["generated"] and len(our_generated) == PROMPT_LENGTH + NEW_TOKENS
    if not same_generation:
        failures.append(f"generation differs: taipan {our_generated}, transformers {reference['generated']}")

    for label, error in [("logits", logits_error), ("hidden states", hidden_error), ("loss", loss_error),
                         (f"grad {worst_grad}", grad_error)]:
        if not error <= TOLERANCE:
            failures.append(f"{label}: relative error {error:.2e} > {TOLERANCE:.0e}")
    for name, error in sorted(grad_errors.items()):
        if not error <= TOLERANCE and name != worst_grad:
            failures.append(f"grad {name}: relative error {error:.2e}")
    return {"logits": logits_error, "hidden": hidden_error, "loss": loss_error, "grad": grad_error,
            "worst_grad": worst_grad, "generation": same_generation,
            "distinct": len(set(reference["generated"][PROMPT_LENGTH:])), "failures": failures}


def taipan_to_transformers(taipan, config, seed, work):
    config_path = os.path.join(work, "config-in.json")
    with open(config_path, "w") as file:
        # An infinite time-step limit is written as transformers writes it.
        limit = config.get("time_step_limit")
        if limit is not None:
            config = dict(config, time_step_limit=[{"__float__": "Infinity"} if v == float("inf") else v for v in limit])
        json.dump(config, file, indent=2)
    directory = os.path.join(work, "model")
    run([taipan, "model", "init", "--config", config_path, "--out", directory, "--seed", str(seed)])
    model, problems = load_with_transformers(directory)
    ids = random_ids(model.config.vocab_size, seed)
    row = compare(taipan, directory, model, ids, work)
    row["failures"] = [f"transformers warned while loading: {p}" for p in problems] + row["failures"]
    return row


TRAINING_CONFIG = """
[model]
hidden_size = {hidden}
num_hidden_layers = {layers}
state_size = {state}
expand = {expand}
use_bias = {bias}
tie_word_embeddings = {tied}

[data]
train = ["{corpus}"]
tokenizer = "byte"
sequence_length = 64
validation_fraction = 0.05

[optimizer]
learning_rate = 3e-3

[schedule]
warmup_steps = 2

[train]
run_dir = "{run}"
batch_size = 4
max_steps = 24
threads = 1

[eval]
interval = 0
batches = 1
sample_tokens = 0

[checkpoint]
interval = 0

[log]
interval = 24
tensorboard = false
"""


def training_corpus(path):
    """About 1 MB of real text, the Python standard library's sources, as JSON lines: one
    document per module."""
    library = os.path.dirname(os.__file__)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for name in sorted(n for n in os.listdir(library) if n.endswith(".py")):
            with open(os.path.join(library, name), encoding="utf-8", errors="replace") as source:
                text = source.read()
            out.write(json.dumps({"text": text, "meta": {"pile_set_name": "PythonStdlib"}}) + "\n")
            written += len(text)
            if written > 1_000_000:
                break


def trained_taipan_to_transformers(taipan, architecture, seed, work):
    """Trains 24 steps (batch 4 × 64, byte tokens) with `taipan train`, then checks the
    checkpoint it wrote in transformers; also reports how far training moved the weights."""
    corpus = os.path.join(work, "corpus.jsonl")
    training_corpus(corpus)
    if isinstance(architecture, str):
        # A TOML of the repository (configs/…), its data and run length replaced.
        config_path = architecture
        overrides = [f"data.train=[\"{corpus}\"]", "data.validation=[]", "data.validation_fraction=0.05",
                     "data.tokenizer=\"byte\"", "data.sequence_length=64", f"train.run_dir=\"{os.path.join(work, 'run')}\"",
                     "train.batch_size=4", "train.max_steps=24", "train.threads=1", "schedule.warmup_steps=2",
                     "eval.interval=0", "eval.batches=1", "eval.sample_tokens=0", "checkpoint.interval=0",
                     "log.interval=24", "log.tensorboard=false"]
    else:
        config_path = os.path.join(work, "train.toml")
        with open(config_path, "w") as file:
            file.write(TRAINING_CONFIG.format(corpus=corpus, run=os.path.join(work, "run"), **architecture))
        overrides = []
    run([taipan, "train", config_path, "--set", f"train.seed={seed}"] + [x for o in overrides for x in ("--set", o)])
    directory = os.path.join(work, "run", "checkpoints", "step-00000024")
    model, problems = load_with_transformers(directory)
    # How far training moved the weights whose initial values are exact (A_log = log n,
    # D = 1): a checkpoint that did not move could hide a load-time rule.
    trained = load_file(os.path.join(directory, "model.safetensors"))
    moved = 0.0
    for name, tensor in trained.items():
        if name.endswith("A_log") and ARCHITECTURE == "mamba":
            initial = torch.log(torch.arange(1, tensor.shape[1] + 1, dtype=torch.float64)).expand(tensor.shape)
            moved = max(moved, relative_error(tensor, initial))
        elif name.endswith(".D"):
            moved = max(moved, relative_error(tensor, torch.ones_like(tensor)))
    row = compare(taipan, directory, model, random_ids(model.config.vocab_size, seed), work)
    row["failures"] = [f"transformers warned while loading: {p}" for p in problems] + row["failures"]
    if not moved > 1e-2:
        row["failures"].append(f"training moved A_log and D by only {moved:.1e} (relative): not a trained checkpoint")
    row["moved"] = moved
    return row


def transformers_to_taipan(taipan, config, seed, work, shard=False, dtype=torch.float32):
    torch.manual_seed(seed)
    model = model_class()(config_class()(**config))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    # The reference then runs on the stored (rounded) weights, converted exactly to float64.
    model = model.to(dtype)
    directory = os.path.join(work, "model")
    # A small shard size writes model.safetensors.index.json and several shards.
    model.save_pretrained(directory, max_shard_size="20KB" if shard else "5GB")
    if shard and not os.path.exists(os.path.join(directory, "model.safetensors.index.json")):
        raise RuntimeError(f"save_pretrained wrote no sharded checkpoint: {sorted(os.listdir(directory))}")
    info = run([taipan, "model", "info", directory])
    row = compare(taipan, directory, model, random_ids(model.config.vocab_size, seed), work)
    count = re.search(r"^parameters: ([0-9,]+)", info, re.MULTILINE)
    if not count or int(count.group(1).replace(",", "")) != model.num_parameters():
        row["failures"].insert(0, f"taipan model info does not report transformers' {model.num_parameters()} parameters:\n{info}")
    return row


def random_ids(vocab_size, seed):
    generator = torch.Generator().manual_seed(1000 + seed)
    return torch.randint(0, vocab_size, (BATCH, LENGTH), generator=generator, dtype=torch.int64)


def main():
    global ARCHITECTURE
    taipan, fixture_config, work = sys.argv[1:4]
    transformers.utils.logging.set_verbosity_warning()
    transformers.utils.logging.disable_progress_bar()
    with open(fixture_config) as file:
        base = json.load(file)
    ARCHITECTURE = base.get("model_type", "mamba")
    if ARCHITECTURE == "mamba2":
        # transformers writes the infinite end of the limit as {"__float__": "Infinity"}.
        base["time_step_limit"] = [float("inf") if isinstance(v, dict) else v for v in base["time_step_limit"]]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"B={BATCH}, L={LENGTH}, {NEW_TOKENS} greedy tokens, tolerance {TOLERANCE:.0e}\n")
    cases = []
    if ARCHITECTURE == "mamba2":
        cases.append(("trained → hf", "quickstart-mamba2, 24", lambda w: trained_taipan_to_transformers(
            taipan, "configs/quickstart-mamba2.toml", 1, w)))
    else:
        quickstart = dict(hidden=256, layers=4, state=16, expand=2, bias="false", tied="true")
        odd = dict(hidden=40, layers=3, state=5, expand=3, bias="true", tied="false")
        cases.append(("trained → hf", "quickstart, 24 steps", lambda w: trained_taipan_to_transformers(taipan, quickstart, 1, w)))
        cases.append(("trained → hf", "odd, bias, untied", lambda w: trained_taipan_to_transformers(taipan, odd, 2, w)))
    for seed, (name, config) in enumerate(variations(base)):
        cases.append(("taipan → hf", name, lambda w, c=config, s=seed: taipan_to_transformers(taipan, c, s, w)))
    for seed, (name, config) in enumerate(variations(base)):
        cases.append(("hf → taipan", name, lambda w, c=config, s=seed: transformers_to_taipan(taipan, c, s, w)))
    fixture, everything = variations(base)[0][1], variations(base)[-1][1]
    cases.append(("hf → taipan", "all, sharded", lambda w: transformers_to_taipan(taipan, everything, 99, w, shard=True)))
    cases.append(("hf → taipan", "all, bfloat16", lambda w: transformers_to_taipan(
        taipan, everything, 98, w, dtype=torch.bfloat16)))
    cases.append(("hf → taipan", "fixture, float16", lambda w: transformers_to_taipan(
        taipan, fixture, 97, w, dtype=torch.float16)))

    header = f"{'direction':<12} {'config':<20} {'logits':>9} {'hidden':>9} {'loss':>9} {'grad':>9}  {'worst grad':<40} {'gen (distinct)':<14} result"
    print(header)
    print("-" * len(header))
    failed = 0
    for index, (direction, name, check) in enumerate(cases):
        case_work = os.path.join(work, f"case{index}")
        os.makedirs(case_work)
        try:
            row = check(case_work)
        except Exception as error:  # a crash in one case is reported and the rest still run
            row = {"logits": float("nan"), "hidden": float("nan"), "loss": float("nan"), "grad": float("nan"),
                   "worst_grad": "-", "generation": False, "distinct": 0, "failures": [f"{type(error).__name__}: {error}"]}
        ok = not row["failures"]
        failed += not ok
        generation = f"{'yes' if row['generation'] else 'NO'} ({row['distinct']})"
        print(f"{direction:<12} {name:<20} {row['logits']:9.1e} {row['hidden']:9.1e} {row['loss']:9.1e} "
              f"{row['grad']:9.1e}  {str(row['worst_grad']):<40} {generation:<14} "
              f"{'ok' if ok else 'FAIL'}")
        if "moved" in row:
            print(f"    training moved A_log / D by up to {row['moved']:.1e} of their largest initial value")
        for failure in row["failures"]:
            print(f"    {failure}")
    print(f"\n{len(cases) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
