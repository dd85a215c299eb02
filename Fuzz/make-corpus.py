#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into Fuzz/Corpus/<target>/ (committed).

Each seed is small: hand-made files in each format and shrunken copies of the test fixtures
(Tests/Fixtures). Targets whose first byte picks a mode get that byte prepended. Run from
the repository root: python3 Fuzz/make-corpus.py (needs the `zstd` command for .zst seeds).
"""
import json
import os
import shutil
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, data bytes)."""
    header, body = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + body


def safetensors_seeds():
    t = "FuzzSafeTensors"
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    write(t, "f32", b"\x00" + safetensors([("w", "F32", [2, 2], f32)], {"format": "pt"}))
    write(t, "mixed", b"\x00" + safetensors([
        ("a", "F16", [3], struct.pack("<3e", 1, -2, 0.5)),
        ("b", "BF16", [2], b"\x80\x3f\x00\x40"),
        ("c", "F64", [1], struct.pack("<d", 3.5)),
        ("d", "I64", [2], struct.pack("<2q", 7, -1)),
        ("e", "I32", [1, 1], struct.pack("<i", 9)),
        ("s", "F32", [], struct.pack("<f", 1)),
        ("z", "F32", [0, 4], b""),
    ]))
    write(t, "empty-header", b"\x00" + safetensors([]))
    index = {"metadata": {"total_size": 16},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    write(t, "index", b"\x01" + json.dumps(index, indent=1).encode())
    write(t, "index-one-shard", b"\x01" + json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}).encode())
    adapter = os.path.join(FIXTURES, "peft-lora", "adapter", "adapter_model.safetensors")
    with open(adapter, "rb") as f:
        write(t, "peft-adapter", b"\x00" + f.read())


def shrunken_tokenizer(path, keep=300):
    with open(path) as f:
        tok = json.load(f)
    model = tok.get("model", {})
    vocab = {k: v for k, v in model.get("vocab", {}).items() if v < keep}
    merges = []
    for merge in model.get("merges", []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(merge)
    model["vocab"], model["merges"] = vocab, merges[:64]
    tok["added_tokens"] = [a for a in tok.get("added_tokens", []) if a.get("id", 0) < keep + 8][:4]
    return json.dumps(tok, ensure_ascii=False, separators=(",", ":"))


def tokenizer_seeds():
    t = "FuzzTokenizerFile"
    fixtures = os.path.join(FIXTURES, "tokenizers")
    for name in sorted(os.listdir(fixtures)):
        path = os.path.join(fixtures, name, "tokenizer.json")
        if os.path.isfile(path):
            write(t, name, shrunken_tokenizer(path))
    write(t, "sample", shrunken_tokenizer(os.path.join(FIXTURES, "tokenizer", "tokenizer.json")))
    write(t, "minimal", json.dumps({
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"],
                  "unk_token": "<unk>", "fuse_unk": True},
        "added_tokens": [{"id": 4, "content": "<|end|>", "special": True}],
        "normalizer": None, "pre_tokenizer": None, "decoder": None}))


def records_seeds():
    t = "FuzzRecords"
    # Selector: bits 0-1 extension (.jsonl .jsonl.zst .txt .txt.zst), bit 2 prompt/completion,
    # bit 3 skip bad records, bit 4 a document per line, bits 5-7 log2 of the buffer size.
    jsonl = ('{"text": "Hello \\"world\\"\\n\\u00e9\\ud83d\\ude00", "meta": {"pile_set_name": "Wiki"}}\n'
             '{"meta": {"pile_set_name": "Code"}, "text": "fn main() {}", "extra": [1, 2.5e3, null, true, {"a": []}]}\n'
             '   \n{"text": ""}\n{"text": 5}\nnot json\n{"text": "last line without newline"}')
    prompts = ('{"prompt": "Q: 2+2?", "completion": " 4", "meta": {"pile_set_name": "Math"}}\n'
               '{"prompt": "", "completion": "x"}\n{"messages": [{"role": "user", "content": "hi"}]}\n')
    text = "first line\nsecond line\r\n\nthird \xe2\x82\xac line"
    seeds = {"jsonl": (0 | 8 | (7 << 5), jsonl), "jsonl-small-buffer": (0 | 8 | (2 << 5), jsonl),
             "jsonl-fail": (0 | (4 << 5), jsonl), "prompts": (4 | 8 | (6 << 5), prompts),
             "text-file": (2 | (5 << 5), text), "text-lines": (2 | 16 | 8 | (1 << 5), text)}
    for name, (selector, body) in seeds.items():
        write(t, name, bytes([selector]) + body.encode())
    # Compressed: one frame, two concatenated frames, a skippable frame, and a truncated frame.
    def zstd(data, level=3):
        return subprocess.run(["zstd", "-q", "-c", f"-{level}"], input=data, check=True, capture_output=True).stdout
    frame = zstd(jsonl.encode())
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    write(t, "zst", bytes([1 | 8 | (7 << 5)]) + frame)
    write(t, "zst-small-buffer", bytes([1 | 8 | (3 << 5)]) + frame + skippable + zstd(prompts.encode()))
    write(t, "zst-prompts", bytes([1 | 4 | 8 | (5 << 5)]) + zstd(prompts.encode(), 19))
    write(t, "zst-truncated", bytes([1 | 8 | (6 << 5)]) + frame[:-5])
    write(t, "txt-zst", bytes([3 | 16 | (4 << 5)]) + zstd(text.encode()))
    # Found by the second campaign: a 10-byte frame whose RLE block is 82,360 newlines, one
    # document each in line mode (the harness once bounded documents by the file's size).
    write(t, "zst-lines-rle-bomb", bytes([3 | 16 | (4 << 5)]) + bytes.fromhex("28b52ffd0482c20d0a0a"))


def config_seeds():
    t = "FuzzTrainConfig"
    configs = os.path.join(ROOT, "configs")
    for name in sorted(os.listdir(configs)):
        if name.endswith(".toml"):
            shutil.copyfile(os.path.join(configs, name), os.path.join(CORPUS, t, name))
    write(t, "odd-syntax", '[model]\nd_model = 0x40\n"n_layer" = 2\n[train]\nlr = 1e-3\nsteps = 1_000\n'
                           '[[data.inputs]]\npath = "a"\n[model.extra]\nx = [1, "a", {b = 1}]\n'
                           't = 1979-05-27T07:32:00Z\ns = """\nmulti\nline"""\n')
    # Found by the second campaign: toml++ asserted on a date whose 'T' is not followed by a time.
    write(t, "date-without-time", "[train]\nseed = 1979-05-27Tx07:32:00Z\n")
    # Found by the third: toml++ asserted on a '}' where an array expects a value.
    write(t, "brace-in-array", "[train]\nseed = [1, }]\n")


def token_shard_seeds():
    t = "FuzzTokenShard"
    def header(version, width, tokens, documents, vocabulary):
        return (b"TAIPANTS" + struct.pack("<IIQQI", version, width, tokens, documents, vocabulary)).ljust(64, b"\0")
    write(t, "text-u16", b"\x00" + header(1, 2, 4, 2, 300) + struct.pack("<4H", 1, 299, 0, 5))
    write(t, "text-u32", b"\x00" + header(1, 4, 3, 1, 70000) + struct.pack("<3I", 69999, 0, 1))
    write(t, "empty", b"\x00" + header(1, 2, 0, 0, 16))
    examples = header(2, 2, 5, 2, 16) + struct.pack("<5H", 1, 2, 3, 4, 5) + struct.pack("<3Q", 0, 2, 5) + bytes([0b11010])
    write(t, "examples", b"\x00" + examples)
    def manifest(version, fmt):
        settings = {"tokenizer": {"name": "byte", "sha256": "00", "vocabularySize": 16, "endOfText": 0},
                    "tokenWidth": 2, "textField": "text", "sourceField": "meta.pile_set_name",
                    "defaultSource": "unknown", "badRecords": "skip", "shardTokens": 100,
                    "validationFraction": 0.1, "validationSeed": 1}
        if fmt:
            settings.update({"format": fmt, "promptField": "prompt", "completionField": "completion"})
        return {"formatVersion": version, "settings": settings,
                "inputs": [{"path": "a.jsonl", "split": "mixed", "bytes": 10, "modifiedNanoseconds": 1, "sha256": "ab"}],
                "shards": [{"file": "train-0000.bin", "split": "train", "tokens": 3, "documents": 1},
                           {"file": "val-0000.bin", "split": "val", "tokens": 4, "documents": 2}],
                "splits": {"train": {"tokens": 3, "documents": 1, "sourceTokens": {"unknown": 3},
                                     "sourceDocuments": {"unknown": 1}},
                           "val": {"tokens": 4, "documents": 2, "sourceTokens": {}, "sourceDocuments": {},
                                   "completionTokens": 2}},
                "skipped": {"bad": {"invalid_json": 1}, "emptyDocuments": 0}}
    write(t, "manifest-text", b"\x01" + json.dumps(manifest(1, None), indent=1).encode())
    write(t, "manifest-examples", b"\x01" + json.dumps(manifest(2, "prompt_completion"), indent=1).encode())


def torch_seeds():
    t = "FuzzTorchCheckpoint"
    base = os.path.join(FIXTURES, "torch-bin")
    for kind in ["float16", "bfloat16", "strided"]:
        shutil.copyfile(os.path.join(base, kind, "pytorch_model.bin"), os.path.join(CORPUS, t, kind))
    for name in sorted(os.listdir(os.path.join(base, "hostile"))):
        if name != "truncated.bin":
            shutil.copyfile(os.path.join(base, "hostile", name), os.path.join(CORPUS, t, name[:-4]))


if __name__ == "__main__":
    for target in ["FuzzSafeTensors", "FuzzTokenizerFile", "FuzzRecords", "FuzzTrainConfig",
                   "FuzzTokenShard", "FuzzTorchCheckpoint"]:
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
        os.makedirs(os.path.join(CORPUS, target))
    safetensors_seeds()
    tokenizer_seeds()
    records_seeds()
    config_seeds()
    token_shard_seeds()
    torch_seeds()
