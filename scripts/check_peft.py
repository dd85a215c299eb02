"""check_peft.py — checks that Taipan's LoRA adapters and PEFT's are the same thing, both ways,
on trained weights.

1. A base model is trained for 24 steps by `taipan train` (byte tokens, the quickstart
   architecture), then a LoRA run (`[lora]`, rank 8, norm_f trained in full) trains 30 more
   steps on it with `model.init_from`, so the adapter's B matrices are far from their zero start.
2. PEFT loads that checkpoint's adapter (`peft.PeftModel.from_pretrained`) on transformers'
   `MambaForCausalLM` of the base; its logits (float64) must equal `taipan model forward --model
   BASE --adapter DIR` within 1e-4 of their largest value.
3. `taipan model merge` writes base + adapter as one model; transformers loads it and must give
   the same logits again.
4. The other way: PEFT makes an adapter on the base (random A and B, rsLoRA, a saved module),
   `save_pretrained` writes it, and `taipan model forward --adapter` must match PEFT's logits.
5. A dt_proj adapter: transformers 5.24's MambaMixer computes `dt_proj.weight @ time_step`
   instead of calling the module, so PEFT's model loads such an adapter and then leaves it out
   (its logits equal the bare base's). The script shows that, and checks that the model
   `taipan model merge` writes carries the adapter exactly in transformers. Hence the default
   targets are in_proj and x_proj.

Usage: check_peft.py TAIPAN_BINARY WORK_DIRECTORY
"""

import os
import subprocess
import sys

import peft
import torch
import transformers
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_transformers import TRAINING_CONFIG, relative_error, run, training_corpus  # noqa: E402

TOLERANCE = 1e-4


def taipan_logits(taipan, base, adapter, ids, work):
    """Logits of `taipan model forward` on `ids`, with the adapter when given."""
    input_path, output_path = os.path.join(work, "ids.safetensors"), os.path.join(work, "out.safetensors")
    save_file({"input_ids": ids.contiguous()}, input_path)
    command = [taipan, "model", "forward", "--model", base, "--input", input_path, "--output", output_path]
    if adapter:
        command += ["--adapter", adapter]
    run(command)
    return load_file(output_path)["logits"]


def reference_logits(model, ids):
    with torch.no_grad():
        model = model.double()
        hidden = model(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states[-1]
        head = model.get_output_embeddings()
        return head(hidden)


def main():
    taipan, work = sys.argv[1], sys.argv[2]
    transformers.utils.logging.set_verbosity_error()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, tolerance {TOLERANCE:.0e}\n")
    corpus = os.path.join(work, "corpus.jsonl")
    training_corpus(corpus)
    config_path = os.path.join(work, "train.toml")
    with open(config_path, "w") as file:
        file.write(TRAINING_CONFIG.format(corpus=corpus, run=os.path.join(work, "base"), hidden=256, layers=4, state=16,
                                          expand=2, bias="false", tied="true"))
    run([taipan, "train", config_path])
    base = os.path.join(work, "base", "checkpoints", "step-00000024")
    lora_run = os.path.join(work, "lora")
    run([taipan, "train", config_path, "--set", f"train.run_dir={lora_run}", "--set", f"model.init_from={base}",
         "--set", "lora.rank=8", "--set", "lora.alpha=16", "--set", "lora.dropout=0.05", "--set", "lora.target_modules=[\"in_proj\",\"x_proj\"]",
         "--set", "lora.modules_to_save=[\"norm_f\"]", "--set", "train.max_steps=30"])
    adapter = os.path.join(lora_run, "checkpoints", "step-00000030")
    trained = load_file(os.path.join(adapter, "adapter_model.safetensors"))
    b_size = max(v.abs().max().item() for k, v in trained.items() if "lora_B" in k)

    ids = torch.randint(0, 264, (2, 40), generator=torch.Generator().manual_seed(5))
    failures = []
    rows = []

    base_model = transformers.MambaForCausalLM.from_pretrained(base, dtype=torch.float32)
    with_adapter = peft.PeftModel.from_pretrained(base_model, adapter)
    reference = reference_logits(with_adapter, ids)
    plain = reference_logits(transformers.MambaForCausalLM.from_pretrained(base, dtype=torch.float32), ids)
    rows.append(("Taipan LoRA → PEFT", relative_error(taipan_logits(taipan, base, adapter, ids, work), reference)))
    effect = relative_error(plain, reference)

    merged = os.path.join(work, "merged")
    run([taipan, "model", "merge", "--model", base, "--adapter", adapter, "--out", merged])
    merged_model = transformers.MambaForCausalLM.from_pretrained(merged, dtype=torch.float32)
    rows.append(("merged → transformers", relative_error(reference_logits(merged_model, ids), reference)))

    # PEFT's own adapter: random A and B (init_lora_weights=False), rsLoRA, norm_f saved in full.
    made = peft.get_peft_model(
        transformers.MambaForCausalLM.from_pretrained(base, dtype=torch.float32),
        peft.LoraConfig(r=4, lora_alpha=6, target_modules=["in_proj", "x_proj"], use_rslora=True,
                        init_lora_weights=False, modules_to_save=["norm_f"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, parameter in made.named_parameters():
            if "modules_to_save" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    peft_dir = os.path.join(work, "peft-adapter")
    made.save_pretrained(peft_dir)
    peft_reference = reference_logits(made, ids)
    rows.append(("PEFT adapter → Taipan", relative_error(taipan_logits(taipan, base, peft_dir, ids, work), peft_reference)))
    peft_effect = relative_error(plain, peft_reference)

    # A dt_proj adapter: transformers 5.24's Mamba multiplies by dt_proj.weight directly, so
    # PEFT's model computes without it; the merged model Taipan writes carries it exactly.
    dt_run = os.path.join(work, "lora-dt")
    run([taipan, "train", config_path, "--set", f"train.run_dir={dt_run}", "--set", f"model.init_from={base}",
         "--set", "lora.rank=8", "--set", "lora.alpha=16", "--set", "lora.target_modules=[\"dt_proj\"]",
         "--set", "train.max_steps=30"])
    dt_adapter = os.path.join(dt_run, "checkpoints", "step-00000030")
    dt_merged = os.path.join(work, "merged-dt")
    run([taipan, "model", "merge", "--model", base, "--adapter", dt_adapter, "--out", dt_merged])
    ours = taipan_logits(taipan, base, dt_adapter, ids, work)
    rows.append(("dt_proj: merged → hf", relative_error(
        reference_logits(transformers.MambaForCausalLM.from_pretrained(dt_merged, dtype=torch.float32), ids), ours)))
    peft_dt = reference_logits(
        peft.PeftModel.from_pretrained(transformers.MambaForCausalLM.from_pretrained(base, dtype=torch.float32), dt_adapter), ids)
    print(f"dt_proj adapter: PEFT's logits differ from the bare base's by {relative_error(peft_dt, plain):.2e} "
          f"and from Taipan's by {relative_error(peft_dt, ours):.2e} (PEFT + transformers 5.24 leave it out)\n")

    print(f"{'check':<24} {'logits rel. error':>18}")
    for name, error in rows:
        ok = error <= TOLERANCE
        print(f"{name:<24} {error:18.2e}  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(name)
    print(f"\nthe trained adapter moves the logits by {effect:.2e} (largest |lora_B| {b_size:.2e}); PEFT's random one by {peft_effect:.2e}")
    if not (effect > 1e-3 and peft_effect > 1e-3):
        failures.append("an adapter that barely changes the logits proves nothing")
        print("FAIL: an adapter that barely changes the logits proves nothing")
    print(f"\n{len(rows) - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
