#!/usr/bin/env bash
# text-corpus.sh OUT — writes a multi-MB plain-text corpus to OUT from text shipped with the
# system (/usr/share/common-licenses, then the plain-text files of /usr/share/doc, in sorted
# order), as UTF-8 with invalid bytes and carriage returns dropped. Used by the tokenizer
# scripts, so they all measure the same text.
set -euo pipefail
out=${1:?usage: text-corpus.sh OUT}
{
    cat /usr/share/common-licenses/* 2>/dev/null || true
    find /usr/share/doc -type f ! -name '*.gz' ! -name '*.html' -size -2M -print0 2>/dev/null \
        | sort -z | xargs -0 -r file --mime-type | grep 'text/plain' | cut -d: -f1 \
        | xargs -r cat 2>/dev/null || true
} | python3 -c '
import sys
text = sys.stdin.buffer.read().decode("utf-8", "ignore").replace("\r", "")
sys.stdout.write(text)
' > "$out"
if [ ! -s "$out" ]; then echo "text-corpus.sh: found no text under /usr/share" >&2; exit 1; fi
