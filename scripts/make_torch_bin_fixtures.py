"""make_torch_bin_fixtures.py — writes the `pytorch_model.bin` fixtures of Tests/Fixtures/torch-bin
with `torch.save`, the way state-spaces/mamba-130m … mamba-2.8b were written: a zip archive holding
a pickled state dict (`data.pkl`) and one raw storage per tensor (`data/N`).

Model directories (a mamba_ssm `config.json` + `pytorch_model.bin` + `expected.safetensors`):
- float32, float16, bfloat16: one tiny Mamba (vocabulary 257, the byte tokenizer's, padded to 264;
  width 16, 2 layers, state 4) with mamba_ssm's parameter names; `lm_head.weight` is tied to the embedding, so the two
  entries share one storage.
- strided: the float32 weights with `x_proj.weight` stored as a transposed view (strides (1, 9))
  and both layers' `D` as views into one storage (the second at offset 32).
`expected.safetensors` holds `input_ids` (2, 8), the `logits` that a float64 reference forward
(mamba_ssm's slow path, below) computes from the weights as stored, and `weight.NAME` (each weight
as torch reads it, widened to float32). The reference is checked first against the
Tests/Fixtures/mamba-tiny outputs, which transformers computed.

hostile/: files a loader must refuse without running anything. The code-running ones would
`touch hostile-pickle-ran` in the working directory; this script checks that `torch.load`
(weights_only=False) really runs them, then removes the marker.

Usage: make_torch_bin_fixtures.py OUTPUT_DIRECTORY MAMBA_TINY_DIRECTORY
"""

import argparse
import collections
import io
import json
import math
import os
import pickle
import struct
import sys
import tempfile
import zipfile

import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {
    "d_model": 16, "n_layer": 2, "vocab_size": 257, "ssm_cfg": {"d_state": 4}, "rms_norm": True,
    "residual_in_fp32": True, "fused_add_norm": True, "pad_vocab_size_multiple": 8, "tie_embeddings": True,
}
PADDED_VOCAB = 264
BATCH, LENGTH = 2, 8
MARKER = "hostile-pickle-ran"
TOUCH = f"touch {MARKER}"


# The reference: mamba_ssm's MambaLMHeadModel on its slow path (selective_scan_ref), in float64.

def rms_norm(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def mixer(x, p, prefix):
    """One Mamba mixer on x (B, L, D); p maps names to float64 weights."""
    w = lambda name: p[prefix + name]
    length = x.shape[1]
    inner = w("in_proj.weight").shape[0] // 2
    state = w("A_log").shape[1]
    rank = w("dt_proj.weight").shape[1]
    xs, z = (x @ w("in_proj.weight").T).chunk(2, dim=-1)                      # (B, L, E) each
    conv = w("conv1d.weight")
    xs = F.conv1d(xs.transpose(1, 2), conv, w("conv1d.bias"), padding=conv.shape[-1] - 1, groups=inner)
    xs = F.silu(xs[..., :length]).transpose(1, 2)                              # (B, L, E)
    dt, b, c = (xs @ w("x_proj.weight").T).split([rank, state, state], dim=-1)
    dt = F.softplus(dt @ w("dt_proj.weight").T + w("dt_proj.bias"))          # (B, L, E)
    a = -torch.exp(w("A_log"))                                                 # (E, N)
    h = torch.zeros(x.shape[0], inner, state, dtype=x.dtype)                   # (B, E, N)
    ys = []
    for t in range(length):
        h = torch.exp(dt[:, t, :, None] * a) * h + dt[:, t, :, None] * b[:, t, None, :] * xs[:, t, :, None]
        ys.append((h * c[:, t, None, :]).sum(-1) + w("D") * xs[:, t])
    y = torch.stack(ys, dim=1) * F.silu(z)
    return y @ w("out_proj.weight").T


def reference_logits(p, ids, embedding, layers):
    """Logits (B, L, V) of the state dict p (float64) on ids."""
    h = p[embedding][ids]
    for i in range(layers):
        h = h + mixer(rms_norm(h, p[f"backbone.layers.{i}.norm.weight"]), p, f"backbone.layers.{i}.mixer.")
    return rms_norm(h, p["backbone.norm_f.weight"]) @ p[embedding].T


def read_safetensors(path):
    """A safetensors file as {name: tensor} (F32 and I64 only, which is all the fixtures hold)."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length:]
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[entry["dtype"]])
        tensors[name] = flat.reshape(entry["shape"])
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: tensor} (float32 or int64) as a safetensors file."""
    names = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = bytes(tensor.contiguous().view(torch.uint8).flatten().tolist())
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def check_reference(mamba_tiny):
    """The reference forward must reproduce transformers' logits on Tests/Fixtures/mamba-tiny."""
    weights = read_safetensors(os.path.join(mamba_tiny, "model", "model.safetensors"))
    expected = read_safetensors(os.path.join(mamba_tiny, "expected.safetensors"))
    p = {name: tensor.double() for name, tensor in weights.items()}
    logits = reference_logits(p, expected["input_ids"], "backbone.embeddings.weight", 2)
    error = ((logits - expected["logits"].double()).abs().max() / expected["logits"].abs().max()).item()
    assert error < 1e-5, f"reference forward disagrees with transformers on mamba-tiny: {error}"
    print(f"reference forward vs transformers on mamba-tiny: relative error {error:.1e}")


# The tiny model, built from nn.Modules so that its state dict is what model.state_dict() gives
# (an OrderedDict with _metadata, detached tensors, the tied head sharing the embedding's storage).

class Mixer(nn.Module):
    def __init__(self, generator, width=16, inner=32, state=4, rank=1, kernel=4):
        super().__init__()
        normal = lambda *shape, std: nn.Parameter(torch.randn(*shape, generator=generator) * std)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1)
                                  + 0.1 * torch.randn(inner, state, generator=generator))
        self.D = nn.Parameter(1 + 0.1 * torch.randn(inner, generator=generator))
        self.in_proj = nn.Linear(width, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, kernel, groups=inner, padding=kernel - 1)
        self.x_proj = nn.Linear(inner, rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        self.out_proj = nn.Linear(inner, width, bias=False)
        self.in_proj.weight = normal(2 * inner, width, std=0.4)
        self.conv1d.weight = normal(inner, 1, kernel, std=0.4)
        self.conv1d.bias = normal(inner, std=0.1)
        self.x_proj.weight = normal(rank + 2 * state, inner, std=0.3)
        self.dt_proj.weight = normal(inner, rank, std=0.5)
        # Δ between 0.001 and 0.1 through softplus, as mamba_ssm initialises it.
        dt = torch.exp(torch.rand(inner, generator=generator) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        self.dt_proj.bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.out_proj.weight = normal(width, inner, std=0.3)


class RMSNorm(nn.Module):
    def __init__(self, generator, width=16):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(width, generator=generator))


class Block(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.mixer = Mixer(generator)
        self.norm = RMSNorm(generator)


class Backbone(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.embedding = nn.Embedding(PADDED_VOCAB, 16)
        self.embedding.weight = nn.Parameter(torch.randn(PADDED_VOCAB, 16, generator=generator))
        self.layers = nn.ModuleList([Block(generator) for _ in range(2)])
        self.norm_f = RMSNorm(generator)


class MambaLMHeadModel(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.backbone = Backbone(generator)
        self.lm_head = nn.Linear(16, PADDED_VOCAB, bias=False)
        self.lm_head.weight = self.backbone.embedding.weight


def write_model_directory(directory, model, ids):
    """config.json, pytorch_model.bin (torch.save of the state dict) and expected.safetensors."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    state = model.state_dict()
    path = os.path.join(directory, "pytorch_model.bin")
    torch.save(state, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["lm_head.weight"].untyped_storage().data_ptr() == loaded["backbone.embedding.weight"].untyped_storage().data_ptr()
    p = {name: tensor.double() for name, tensor in loaded.items()}
    logits = reference_logits(p, ids, "backbone.embedding.weight", 2)
    expected = {"input_ids": ids, "logits": logits.float()}
    expected.update({f"weight.{name}": tensor.float() for name, tensor in loaded.items()})
    write_safetensors(os.path.join(directory, "expected.safetensors"), expected)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(state)} tensors")


def make_models(output):
    generator = torch.Generator().manual_seed(0)
    model = MambaLMHeadModel(generator)
    ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, LENGTH), generator=generator)
    write_model_directory(os.path.join(output, "float32"), model, ids)
    for dtype in ["float16", "bfloat16"]:
        write_model_directory(os.path.join(output, dtype), MambaLMHeadModel(torch.Generator().manual_seed(0)).to(getattr(torch, dtype)), ids)

    strided = MambaLMHeadModel(torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in strided.backbone.layers:
            # The same values, laid out column-major: a transposed view of a (32, 9) tensor.
            layer.mixer.x_proj.weight = nn.Parameter(layer.mixer.x_proj.weight.detach().t().contiguous().t())
        both = torch.stack([layer.mixer.D.detach() for layer in strided.backbone.layers])
        for i, layer in enumerate(strided.backbone.layers):
            layer.mixer.D = nn.Parameter(both[i])
    state = strided.state_dict()
    assert state["backbone.layers.0.mixer.x_proj.weight"].stride() == (1, 9)
    assert state["backbone.layers.1.mixer.D"].storage_offset() == 32
    write_model_directory(os.path.join(output, "strided"), strided, ids)


# Hostile and broken files.

def write_archive(path, pickled, storages, compression=zipfile.ZIP_STORED):
    """A torch.save-style zip (archive/data.pkl, archive/data/KEY) around hand-made contents."""
    entries = [("data.pkl", pickled), ("byteorder", b"little")]
    entries += [(f"data/{key}", blob) for key, blob in storages.items()] + [("version", b"3\n")]
    with zipfile.ZipFile(path, "w") as archive:
        for name, contents in entries:
            # A fixed date keeps the files the same from one run to the next.
            info = zipfile.ZipInfo(f"archive/{name}", date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, contents)


class Reduce:
    """Pickles as a call of `function(*arguments)`: what a hostile checkpoint does."""
    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


class FakeStorage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class StatePickler(pickle.Pickler):
    """Pickles FakeStorage objects as torch.save pickles storages (a persistent id)."""
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def state_pickle(entries):
    """A protocol-2 pickle of an OrderedDict of entries, as torch.save writes it."""
    buffer = io.BytesIO()
    StatePickler(buffer, protocol=2).dump(collections.OrderedDict(entries))
    return buffer.getvalue()


def fake_tensor(storage, offset, size, stride):
    return Reduce(torch._utils._rebuild_tensor_v2, storage, offset, size, stride, False, collections.OrderedDict())


def make_hostile(output, good_bin):
    hostile = os.path.join(output, "hostile")
    os.makedirs(hostile, exist_ok=True)
    floats = lambda count: struct.pack(f"<{count}f", *range(count))
    weight = ("weight", fake_tensor(FakeStorage(torch.FloatStorage, "0", 4), 0, (2, 2), (2, 1)))
    good = {"0": floats(4)}

    def write(name, pickled, storages=good, compression=zipfile.ZIP_STORED):
        write_archive(os.path.join(hostile, name), pickled, storages, compression)

    # Code that runs on unpickling, in three spellings.
    write("os-system.bin", b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(TOUCH)) + TOUCH.encode()
          + b"q\x01\x85q\x02Rq\x03.")
    write("posix-system.bin", state_pickle([weight, ("x", Reduce(os.system, TOUCH))]))
    write("builtins-eval.bin", state_pickle([("x", Reduce(eval, f"__import__('os').system('{TOUCH}')")), weight]))
    # A class a state dict does not hold (training scripts often save their arguments).
    write("unknown-class.bin", state_pickle([weight, ("args", argparse.Namespace(lr=0.1))]))
    # Storage problems: a tensor reaching past its storage, a storage entry shorter than its
    # declared size, a storage entry that is missing.
    write("tensor-past-storage.bin", state_pickle([("weight", fake_tensor(FakeStorage(torch.FloatStorage, "0", 4), 1, (2, 2), (2, 1)))]))
    write("short-storage.bin", state_pickle([("weight", fake_tensor(FakeStorage(torch.FloatStorage, "0", 6), 0, (2, 3), (3, 1)))]))
    write("missing-storage.bin", state_pickle([weight]), storages={})
    write("compressed.bin", state_pickle([weight]), compression=zipfile.ZIP_DEFLATED)
    with open(good_bin, "rb") as f:
        whole = f.read()
    with open(os.path.join(hostile, "truncated.bin"), "wb") as f:
        f.write(whole[:len(whole) // 2])

    # The code-running files are real: torch.load without weights_only runs them.
    with tempfile.TemporaryDirectory() as scratch:
        here = os.getcwd()
        os.chdir(scratch)
        try:
            for name in ["os-system.bin", "posix-system.bin", "builtins-eval.bin"]:
                torch.load(os.path.join(hostile, name), weights_only=False)
                assert os.path.exists(MARKER), f"{name} did not run its payload"
                os.remove(MARKER)
        finally:
            os.chdir(here)
    for name in sorted(os.listdir(hostile)):
        print(f"{os.path.relpath(os.path.join(hostile, name))}: {os.path.getsize(os.path.join(hostile, name))} bytes")


def main():
    output, mamba_tiny = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    check_reference(mamba_tiny)
    make_models(output)
    make_hostile(os.path.abspath(output), os.path.join(output, "float32", "pytorch_model.bin"))


if __name__ == "__main__":
    main()
