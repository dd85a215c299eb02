#!/usr/bin/env bash
# check-tokenizer-shapes.sh — checks Taipan's ids and decoding against Hugging Face `tokenizers`
# on longer real text, for every tokenizer shape of scripts/tokenizer_shapes.py: the committed
# fixtures (trained on the licenses and locale text), the same shapes trained by the library on
# other text (the Python standard library's sources, VOCAB_SIZE ids, default 8000), and the
# byte-level and SentencePiece-style tokenizers `taipan tokenizer train` writes. The texts are
# the corpus of text-corpus.sh (its first CORPUS_MB MB, default 4) and the multilingual text of
# multilingual-corpus.sh. Set TAIPAN to a built taipan binary to skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/tokenizers-venv.sh)
TAIPAN=$(scripts/taipan-binary.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/text-corpus.sh "$work/corpus-full.txt"
head -c "$(( ${CORPUS_MB:-4} * 1000000 ))" "$work/corpus-full.txt" | iconv -f utf-8 -t utf-8 -c > "$work/corpus.txt"
scripts/multilingual-corpus.sh "$work/multilingual.txt"
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
find "$stdlib" -maxdepth 1 -name '*.py' -print0 | sort -z | xargs -0 cat > "$work/python.txt"
for kind in byte-level sentencepiece-bpe; do
    "$TAIPAN" tokenizer train --kind "$kind" --vocab-size "${VOCAB_SIZE:-8000}" --out "$work/taipan-$kind" \
        "$work/corpus.txt" "$work/multilingual.txt" | tail -n 1
done
PYTHONPATH=scripts "$python" scripts/check_tokenizer_shapes.py "$work" "$TAIPAN" "${VOCAB_SIZE:-8000}"
