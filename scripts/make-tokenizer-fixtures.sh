#!/usr/bin/env bash
# make-tokenizer-fixtures.sh — regenerates Tests/Fixtures/tokenizers: a small tokenizer of each
# released shape trained with Hugging Face `tokenizers` (scripts/tokenizer_shapes.py) on the
# licenses under /usr/share/common-licenses and the multilingual locale text, with the ids and
# decoded strings the library gives for tricky texts (make_tokenizer_fixtures.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/tokenizers-venv.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ cat /usr/share/common-licenses/*; scripts/multilingual-corpus.sh /dev/stdout; } > "$work/train.txt"
rm -rf Tests/Fixtures/tokenizers
PYTHONPATH=scripts "$python" scripts/make_tokenizer_fixtures.py "$work" Tests/Fixtures/tokenizers
