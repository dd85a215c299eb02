"""make_lora_fixtures.py — writes a PEFT LoRA adapter for the mamba-tiny fixture and PEFT's
logits with it, for Taipan's tests.

OUT/adapter/: `save_pretrained` of `get_peft_model(base, LoraConfig(r=4, lora_alpha=6,
target_modules=["in_proj", "x_proj"], modules_to_save=["norm_f"], init_lora_weights=False))`,
seeded, with the saved norm_f copy perturbed so that it differs from the base's.
OUT/expected.safetensors: `input_ids` (2, 9) and `logits` (2, 9, V) in float64 — the head
applied to the final hidden state of the PEFT model in float64 (transformers casts its own
logits to float32).

Usage: make_lora_fixtures.py BASE_MODEL_DIR OUT_DIR
"""

import os
import sys

import peft
import torch
import transformers
from safetensors.torch import save_file


def main():
    base, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(11)
    model = peft.get_peft_model(
        transformers.MambaForCausalLM.from_pretrained(base, dtype=torch.float32),
        peft.LoraConfig(r=4, lora_alpha=6, target_modules=["in_proj", "x_proj"], modules_to_save=["norm_f"],
                        init_lora_weights=False, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "modules_to_save" in name:
                parameter.add_(0.2 * torch.randn_like(parameter))
    model.save_pretrained(os.path.join(out, "adapter"))
    for extra in ("README.md",):
        path = os.path.join(out, "adapter", extra)
        if os.path.exists(path):
            os.remove(path)
    ids = torch.randint(0, model.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model = model.double()
        hidden = model(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states[-1]
        logits = model.get_output_embeddings()(hidden)
    save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous()}, os.path.join(out, "expected.safetensors"))
    print(f"wrote {out}: adapter and logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
