#!/usr/bin/env bash
# check-tokenizer-training.sh — `taipan train` on raw text with each committed tokenizer shape
# (Tests/Fixtures/tokenizers): the run prepares the text into token shards with that
# tokenizer.json, trains a tiny model for STEPS steps (default 3) and evaluates it. Then the
# manifest's tokenizer (path, SHA-256, vocabulary size, end-of-text id) is checked against the
# file, and the first document's ids in the shards against Hugging Face `tokenizers`'
# `encode(text)` (with the post-processor's special tokens, such as Llama's begin-of-text
# token) followed by the end-of-text id. The text is the first MB of text-corpus.sh, one
# document a paragraph. Set
# TAIPAN to a built taipan binary to skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/tokenizers-venv.sh)
taipan=$(scripts/taipan-binary.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/text-corpus.sh "$work/corpus-full.txt"
head -c 1000000 "$work/corpus-full.txt" | iconv -f utf-8 -t utf-8 -c > "$work/corpus.txt"
# One JSON line a document, the documents cut at blank lines.
python3 -c '
import json, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for document in text.split("\n\n"):
        if document.strip():
            f.write(json.dumps({"text": document}) + "\n")
' "$work/corpus.txt" "$work/corpus.jsonl"
failed=0
for shape in ${SHAPES:-cl100k llama3 o200k qwen2 falcon sp-metaspace sp-prepend llama2}; do
    tokenizer=Tests/Fixtures/tokenizers/$shape/tokenizer.json
    run="$work/run-$shape"
    if ! "$taipan" train configs/quickstart.toml \
        --set "data.train=[\"$work/corpus.jsonl\"]" --set "data.validation=[]" --set "data.tokenizer=\"$tokenizer\"" \
        --set data.sequence_length=64 --set model.hidden_size=32 --set model.num_hidden_layers=1 \
        --set "train.run_dir=\"$run\"" --set train.batch_size=2 --set "train.max_steps=${STEPS:-3}" \
        --set schedule.warmup_steps=1 --set eval.interval=1000 --set eval.batches=1 --set eval.sample_tokens=8 \
        --set checkpoint.interval=1000 --set log.interval=1 --set log.tensorboard=false > "$work/$shape.log" 2>&1; then
        echo "$shape: taipan train FAILED"; tail -n 5 "$work/$shape.log"; failed=1; continue
    fi
    losses=$(grep -o '| loss [0-9.]*' "$work/$shape.log" | cut -d' ' -f3 | tr '\n' ' ')
    if ! "$python" - "$tokenizer" "$run/data" "$work/corpus.jsonl" "$shape" "$losses" <<'PY'
import hashlib, json, os, struct, sys
from tokenizers import Tokenizer
path, data, corpus, shape, losses = sys.argv[1:6]
manifest = json.load(open(os.path.join(data, "manifest.json")))
recorded = manifest["settings"]["tokenizer"]
sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
hf = Tokenizer.from_file(path)
ok = recorded["sha256"] == sha and recorded["name"] == path and recorded["vocabularySize"] == hf.get_vocab_size()
# A shard: a 64-byte header (bytes per id at offset 12), then the ids. The first document
# is at the start of the train shard, or of the validation one when it was held out.
first = json.loads(open(corpus, encoding="utf-8").readline())["text"]
expected = hf.encode(first).ids + [recorded["endOfText"]]
found = False
for entry in manifest["shards"]:
    blob = open(os.path.join(data, entry["file"]), "rb").read()
    width = struct.unpack_from("<I", blob, 12)[0]
    count = min(len(expected), (len(blob) - 64) // width)
    ids = list(struct.unpack_from(f"<{count}{'H' if width == 2 else 'I'}", blob, 64))
    found |= ids == expected
print(f"{shape:13} manifest tokenizer {'recorded' if ok else 'WRONG'} ({os.path.basename(os.path.dirname(path))}, "
      f"sha256 {recorded['sha256'][:12]}…, {recorded['vocabularySize']} ids, end of text {recorded['endOfText']}); "
      f"first document {len(expected)} ids {'= HF encode(text) + end of text' if found else 'DIFFER from HF'}; losses {losses}")
sys.exit(0 if ok and found else 1)
PY
    then failed=1; fi
done
echo "check-tokenizer-training: $([ $failed = 0 ] && echo OK || echo FAILED)"
exit $failed
