#!/usr/bin/env bash
# check-tokenizer-hf.sh — trains a byte-level BPE with `taipan tokenizer train`, loads the
# tokenizer.json it writes with Hugging Face `tokenizers`, and checks that both give the same
# ids on sample text and decode them back to the text (in NFC, as the tokenizer normalises).
# It also trains the library's own BpeTrainer on the same file (read line by line, as both do
# for text files) and on the same text as a .jsonl.zst of documents (Taipan through its shard
# reader, the library through train_from_iterator), and reports whether the merges agree.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/tokenizers-venv.sh)
taipan=$(scripts/taipan-binary.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/text-corpus.sh "$work/corpus.txt"
vocab=${VOCAB_SIZE:-4000}
"$taipan" tokenizer train --vocab-size "$vocab" --out "$work/taipan" "$work/corpus.txt" | tail -n 1
# The corpus as Pile-style records, one per blank-line-separated paragraph.
python3 -c '
import json, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for document in text.split("\n\n"):
        out.write(json.dumps({"text": document, "meta": {"pile_set_name": "Docs"}}) + "\n")
' "$work/corpus.txt" "$work/corpus.jsonl"
zstd -q -f "$work/corpus.jsonl" -o "$work/corpus.jsonl.zst"
"$taipan" tokenizer train --vocab-size "$vocab" --out "$work/taipan-jsonl" "$work/corpus.jsonl.zst" | tail -n 1

# Sample text: a slice of the corpus plus text that exercises the pre-tokenizer and NFC.
head -n 5000 "$work/corpus.txt" > "$work/sample.txt"
printf '%b' "\nIt's we'll they've I'm you'd she'S  multiple   spaces\tand\ttabs\n\n\r\nnumbers 1234567 3.14159 -42\n" \
    "naïve café résumé cafe\u0301 — “quotes” 日本語のテキスト 한국어 😀👍🏽 🇯🇵 \u00a0\u3000 x\n" \
    "<|endoftext|>two docs<|endoftext|>\n    indented code(x):\n        return x**2  # square\n" >> "$work/sample.txt"
"$taipan" tokenize --tokenizer "$work/taipan/tokenizer.json" "$work/sample.txt" > "$work/ids.txt"
"$taipan" tokenize --tokenizer "$work/taipan/tokenizer.json" --decode "$work/ids.txt" > "$work/decoded.txt"

"$python" - "$work" "$vocab" <<'PY'
import json, sys, unicodedata
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
work, vocab = sys.argv[1], int(sys.argv[2])
text = open(f"{work}/sample.txt", encoding="utf-8", newline="").read()
hf = Tokenizer.from_file(f"{work}/taipan/tokenizer.json")
hf_ids = hf.encode(text).ids
taipan_ids = [int(x) for x in open(f"{work}/ids.txt").read().split()]
decoded = open(f"{work}/decoded.txt", encoding="utf-8", newline="").read()
failed = False
if hf_ids == taipan_ids:
    print(f"ids: identical ({len(hf_ids)} tokens for {len(text.encode())} bytes)")
else:
    failed = True
    i = next((k for k, (a, b) in enumerate(zip(hf_ids, taipan_ids)) if a != b), min(len(hf_ids), len(taipan_ids)))
    print(f"ids: DIFFER at token {i}: tokenizers {hf_ids[i:i+8]} taipan {taipan_ids[i:i+8]}")
for name, result in [("taipan decode", decoded), ("tokenizers decode", hf.decode(hf_ids, skip_special_tokens=False))]:
    ok = result == unicodedata.normalize("NFC", text)
    failed |= not ok
    print(f"{name}: {'round-trips' if ok else 'DIFFERS from the text'}")

# The library's own trainer on the same inputs, for comparison (informational).
def reference_trainer():
    reference = Tokenizer(models.BPE())
    reference.normalizer = normalizers.NFC()
    reference.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    reference.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    return reference, trainer

def compare(name, ours_path, reference):
    ours = json.load(open(ours_path))["model"]
    theirs = json.loads(reference.to_str())["model"]
    pairs = lambda merges: [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    same = pairs(ours["merges"]) == pairs(theirs["merges"]) and ours["vocab"] == theirs["vocab"]
    print(f"merges and vocab vs tokenizers' BpeTrainer, {name}: {'identical' if same else 'different'} "
          f"({len(ours['merges'])} merges)")

reference, trainer = reference_trainer()
reference.train([f"{work}/corpus.txt"], trainer)
compare("corpus.txt (lines)", f"{work}/taipan/tokenizer.json", reference)
reference, trainer = reference_trainer()
documents = [json.loads(line)["text"] for line in open(f"{work}/corpus.jsonl", encoding="utf-8")]
reference.train_from_iterator(documents, trainer)
compare("corpus.jsonl.zst (documents)", f"{work}/taipan-jsonl/tokenizer.json", reference)
sys.exit(1 if failed else 0)
PY
echo "check-tokenizer-hf: OK"
