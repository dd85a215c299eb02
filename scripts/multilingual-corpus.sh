#!/usr/bin/env bash
# multilingual-corpus.sh OUT — writes multilingual text to OUT, assembled from the glibc locale
# sources under /usr/share/i18n/locales: their quoted strings (month and day names, language
# and country names, messages) with the <Uxxxx> escapes decoded, one line per locale, in
# sorted order. About 200 KB in dozens of scripts (Cyrillic, CJK, Thai, Arabic, Devanagari…).
set -euo pipefail
out=${1:?usage: multilingual-corpus.sh OUT}
python3 - "$out" <<'PY'
import glob, re, sys
lines = []
for path in sorted(glob.glob("/usr/share/i18n/locales/*")):
    text = open(path, encoding="utf-8", errors="ignore").read()
    words = []
    for quoted in re.findall(r'"((?:[^"\\]|\\.)*)"', text):
        if "<U" not in quoted:
            continue
        decoded = re.sub(r"<U([0-9A-Fa-f]{4,8})>", lambda m: chr(int(m.group(1), 16)), quoted)
        decoded = re.sub(r"[%;/]", " ", decoded)
        if any(ord(c) > 127 for c in decoded):
            words.append(decoded)
    if words:
        lines.append(" ".join(words))
if not lines:
    sys.exit("multilingual-corpus.sh: found no locale sources under /usr/share/i18n/locales")
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\n".join(lines) + "\n")
PY
