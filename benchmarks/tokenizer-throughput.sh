#!/usr/bin/env bash
# tokenizer-throughput.sh — encoding speed of Taipan's BPE against Hugging Face `tokenizers`
# on the same text and the same tokenizer.json, in MB/s of UTF-8 input: one thread
# (RAYON_NUM_THREADS=1 for the library) and all cores (encode_batch). The text is a
# multi-MB corpus of system documentation cut into documents at blank lines; the tokenizers
# are the test fixture (3000 ids, NFC), two trained by `taipan tokenizer train` (VOCAB_SIZE,
# default 32000; with NFC and without, since the library's NFC normaliser is costly), its
# SentencePiece-style BPE (--kind sentencepiece-bpe), and the cl100k-style and Llama-2-style
# (Prepend + Replace, byte fallback) shapes of scripts/tokenizer_shapes.py trained by the
# library on the same corpus, and llama3 and llama2: those shapes with the begin-of-text
# TemplateProcessing of the released files. TOKENIZERS picks some (default: all but llama3
# and llama2). Both sides are checked to give the same ids (with special tokens, as
# encode(text) gives them) before they are timed. Set TAIPAN to a built taipan binary to skip
# the build.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/tokenizers-venv.sh)
taipan=$(scripts/taipan-binary.sh)
cores=$(nproc)
runs=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/text-corpus.sh "$work/corpus.txt"
names=${TOKENIZERS:-fixture trained trained-no-nfc trained-sentencepiece cl100k sp-prepend}
wanted() { case " $names " in *" $1 "*) return 0;; *) return 1;; esac; }
if wanted trained; then
    "$taipan" tokenizer train --vocab-size "${VOCAB_SIZE:-32000}" --out "$work/trained" "$work/corpus.txt" >/dev/null
fi
if wanted trained-no-nfc; then
    "$taipan" tokenizer train --vocab-size "${VOCAB_SIZE:-32000}" --no-nfc --out "$work/trained-no-nfc" "$work/corpus.txt" >/dev/null
fi
if wanted trained-sentencepiece; then
    "$taipan" tokenizer train --kind sentencepiece-bpe --vocab-size "${VOCAB_SIZE:-32000}" --out "$work/trained-sentencepiece" "$work/corpus.txt" >/dev/null
fi
for shape in cl100k sp-prepend llama3 llama2; do
    wanted "$shape" || continue
    mkdir -p "$work/$shape"
    PYTHONPATH=scripts "$python" -c '
import sys, tokenizer_shapes
lines = open(sys.argv[2], encoding="utf-8", newline="").read().splitlines(keepends=True)
open(sys.argv[3], "w", encoding="utf-8").write(tokenizer_shapes.train(sys.argv[1], lines, int(sys.argv[4])))
' "$shape" "$work/corpus.txt" "$work/$shape/tokenizer.json" "${VOCAB_SIZE:-32000}"
done

# MB/s of the library: encode_batch over the documents, median of $runs runs, after checking
# its ids against Taipan's.
hf_rate() {
    "$python" - "$1" "$work/corpus.txt" "$runs" "$taipan" <<'PY'
import subprocess, sys, time
from tokenizers import Tokenizer
path, corpus, runs, taipan = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tokenizer = Tokenizer.from_file(path)
documents = open(corpus, encoding="utf-8", newline="").read().split("\n\n")
size = sum(len(d.encode()) for d in documents)
sample = "\n\n".join(documents[:2000])
ours = subprocess.run([taipan, "tokenize", "--tokenizer", path], input=sample.encode(), capture_output=True, check=True)
if [int(x) for x in ours.stdout.split()] != tokenizer.encode(sample).ids:
    sys.exit(f"{path}: Taipan's ids differ from the tokenizers library's")
rates = []
for _ in range(runs):
    start = time.perf_counter()
    tokenizer.encode_batch(documents)
    rates.append(size / 1e6 / (time.perf_counter() - start))
print(f"{sorted(rates)[len(rates) // 2]:.2f}")
PY
}

taipan_rate() {
    "$taipan" bench tokenizer --tokenizer "$1" --threads "$2" --runs "$runs" "$work/corpus.txt" \
        | sed -n 's/^threads [0-9]*: \([0-9.]*\) MB\/s.*/\1/p'
}

echo "corpus: $(du -m "$work/corpus.txt" | cut -f1) MB, $cores cores, median of $runs runs, MB/s"
printf '%-28s %10s %10s %7s %10s %10s %7s\n' tokenizer "hf 1t" "taipan 1t" ratio "hf ${cores}t" "taipan ${cores}t" ratio
for name in $names; do
    if [ "$name" = fixture ]; then path=Tests/Fixtures/tokenizer/tokenizer.json; else path="$work/$name/tokenizer.json"; fi
    hf1=$(RAYON_NUM_THREADS=1 hf_rate "$path")
    hfn=$(hf_rate "$path")
    ta1=$(taipan_rate "$path" 1)
    tan=$(taipan_rate "$path" "$cores")
    vocab=$("$python" -c "import sys; from tokenizers import Tokenizer; print(Tokenizer.from_file(sys.argv[1]).get_vocab_size())" "$path")
    awk -v name="$name ($vocab ids)" -v hf1="$hf1" -v ta1="$ta1" -v hfn="$hfn" -v tan="$tan" 'BEGIN {
        printf "%-28s %10s %10s %6.1fx %10s %10s %6.1fx\n", name, hf1, ta1, ta1 / hf1, hfn, tan, tan / hfn }'
done
