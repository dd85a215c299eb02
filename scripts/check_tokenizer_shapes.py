"""check_tokenizer_shapes.py WORK TAIPAN VOCAB — compares `taipan tokenize` (ids with and
without special tokens, and --decode of the library's ids with the special tokens' text and
without) with Hugging Face `tokenizers` on WORK/corpus.txt and
WORK/multilingual.txt for: the committed fixture of each shape, each shape trained by the
library on WORK/python.txt with VOCAB ids, and the tokenizers taipan trained into
WORK/taipan-*. Prints one line per tokenizer and text; exits 1 when anything differs."""
import json
import os
import subprocess
import sys

from tokenizers import Tokenizer

import tokenizer_shapes as shapes

work, taipan, vocab = sys.argv[1], sys.argv[2], int(sys.argv[3])
fixtures = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tokenizers")

tokenizers = [(f"fixture {shape}", os.path.join(fixtures, shape, "tokenizer.json")) for shape in shapes.SHAPES]
python_lines = open(f"{work}/python.txt", encoding="utf-8", newline="").read().splitlines(keepends=True)
for shape in shapes.SHAPES:
    path = f"{work}/{shape}-python.json"
    with open(path, "w", encoding="utf-8") as f:
        f.write(shapes.train(shape, python_lines, vocab))
    tokenizers.append((f"{shape} trained on Python sources", path))
for kind in ["byte-level", "sentencepiece-bpe"]:
    tokenizers.append((f"taipan-trained {kind}", f"{work}/taipan-{kind}/tokenizer.json"))

texts = {name: open(f"{work}/{name}.txt", encoding="utf-8", newline="").read() for name in ["corpus", "multilingual"]}
failed = False
print(f"{'tokenizer':48} {'text':13} {'special':8} {'tokens':>9}  ids        decoding")
for name, path in tokenizers:
    hf = Tokenizer.from_file(path)
    for text_name, text in texts.items():
        for special in [False, True]:
            expected = hf.encode(text, add_special_tokens=special).ids
            flag = [] if special else ["--no-add-special-tokens"]
            ours = subprocess.run([taipan, "tokenize", "--tokenizer", path, *flag, f"{work}/{text_name}.txt"],
                                  capture_output=True, check=True).stdout.split()
            ours = [int(x) for x in ours]
            ids_ok = ours == expected
            if not ids_ok:
                at = next((i for i, (a, b) in enumerate(zip(ours, expected)) if a != b), min(len(ours), len(expected)))
                ids_note = f"DIFFER at {at}: taipan {ours[at:at + 6]} tokenizers {expected[at:at + 6]}"
            else:
                ids_note = "identical"
            with open(f"{work}/ids.txt", "w") as f:
                f.write(" ".join(map(str, expected)))
            # With special tokens added, decode them both ways (skip_special_tokens True and False).
            decode_ok = True
            for skip in [False, True] if special else [False]:
                decoded = subprocess.run(
                    [taipan, "tokenize", "--tokenizer", path, "--decode", *(["--skip-special-tokens"] if skip else []), f"{work}/ids.txt"],
                    capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
                decode_ok &= decoded == hf.decode(expected, skip_special_tokens=skip)
            failed |= not (ids_ok and decode_ok)
            print(f"{name:48} {text_name:13} {'added' if special else 'none':8} {len(expected):9}  {ids_note:10} {'identical' if decode_ok else 'DIFFERS'}")
print("check-tokenizer-shapes: " + ("FAILED" if failed else "OK"))
sys.exit(1 if failed else 0)
