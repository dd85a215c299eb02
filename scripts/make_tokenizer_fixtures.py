"""make_tokenizer_fixtures.py WORK OUT — trains a small tokenizer of every shape in
tokenizer_shapes.py with Hugging Face `tokenizers` on WORK/train.txt and writes, under OUT,
SHAPE/tokenizer.json and SHAPE/expected.json (the library's ids and decoded string for each
tricky text, null where the library panics; and, with special tokens added, the ids, the ids
of the text paired with PAIR, and the decoding of the ids with and without the special
tokens' text), and variants.json: the same vocabularies behind other components (every Split
behavior, inverted or not, a pattern no scanner knows, Metaspace's prepend schemes, more
normalisers), each with its expected ids and decoded strings."""
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors

import tokenizer_shapes as shapes

work, out = sys.argv[1], sys.argv[2]
VOCAB = 1200
PAIR = "And a second text."


def texts(special):
    """Texts that catch pre-tokenizer, normaliser and model mistakes."""
    cases = [
        "", " ", "\n", "Hello, world!", " leading space", "trailing space ", "  two leading",
        "CRLF line\r\nnext line\r\n\r\nend\r", "\r\n\r\n  \r\n\t\n",
        "runs   of    spaces\n\n\n\nand\t\ttabs  \n  x",
        "I'M YOU'LL we'Re They'VE it's DON'T she'd 'S 'LL 're 'Ve o'clock 'x ''s",
        "1 12 123 1234 12345 123456 1234567 12345678 3.14159 -42 1,000,000 ١٢٣٤ ²³ 0x1F",
        "我们今天去北京。中文没有空格", "日本語のテキストです。カタカナ", "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
        "한국어 텍스트 입니다", "Ελληνικά και Русский язык", "مرحبا بالعالم", "हिन्दी भाषा",
        "cafe\u0301 n\u0303o e\u0301\u0302 \u0301start A\u030a",
        "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇫🇷 ❤️ 😀😀",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∮ ☃ 𓀀 ꙮ \u0000\u0007 \ufeff",
        "HelloWorld camelCase XMLHttpRequest ÉCOLE ǅungla ʰello ＡＢＣ ﬁne",
        "path/to/file.py\n/usr/bin ...!!! ?? --- (a)[b]{c} <tag/> a+b=c",
        "x\u00a0y\u3000z\u2028w\u0085v",
        "def f(x):\n    return x**2  # square\n\tpass\n",
        "ſ 'ſ 'K ǈ",
    ]
    if special:
        cases += [f"foo{special}bar", f"un{special}believable {special} {special}{special}x", f"{special}"]
    return cases


def decode(tokenizer, ids, skip):
    try:
        return tokenizer.decode(ids, skip_special_tokens=skip)
    except BaseException:  # the library's Strip decoder panics on an empty string: no expectation
        return None


def expected(tokenizer_json, cases):
    tokenizer = Tokenizer.from_str(tokenizer_json)
    result = []
    for text in cases:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        special = tokenizer.encode(text).ids
        result.append({"text": text, "ids": ids, "decoded": decode(tokenizer, ids, False),
                       "idsWithSpecialTokens": special,
                       "pairIdsWithSpecialTokens": tokenizer.encode(text, PAIR).ids,
                       "pairIds": tokenizer.encode(text, PAIR, add_special_tokens=False).ids,
                       "decodedWithSpecialTokens": decode(tokenizer, special, False),
                       "decodedSkippingSpecialTokens": decode(tokenizer, special, True)})
    return result


def write(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(value, str):
            f.write(value)
        else:  # one case or variant a line, so diffs stay readable
            f.write("[\n" + ",\n".join(json.dumps(item, ensure_ascii=False) for item in value) + "\n]\n")


lines = open(f"{work}/train.txt", encoding="utf-8", newline="").read().splitlines(keepends=True)
trained = {}
for shape in shapes.SHAPES:
    trained[shape] = shapes.train(shape, lines, VOCAB)
    write(f"{out}/{shape}/tokenizer.json", trained[shape])
    write(f"{out}/{shape}/expected.json", expected(trained[shape], texts(shapes.special_token(trained[shape]))))
    print(f"{shape}: {len(json.loads(trained[shape])['model']['vocab'])} tokens")


def byte_level_after(split):
    return shapes.component(pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]))


variants = []
def variant(base, name, **overrides):
    data = json.loads(trained[base])
    for key, value in overrides.items():
        if key == "model":
            data["model"].update(value)
        else:
            data[key] = value
    text = json.dumps(data, ensure_ascii=False)
    variants.append({"base": base, "name": name, "overrides": overrides,
                     "cases": expected(text, texts(shapes.special_token(text)))})


for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
    for invert in [False, True]:
        for pattern in [" ", "ab"]:
            variant("cl100k", f"split string {pattern!r} {behavior} invert={invert}", pre_tokenizer=byte_level_after(
                pre_tokenizers.Split(pattern, behavior=behavior, invert=invert)))
    variant("cl100k", f"split regex {behavior}", pre_tokenizer=byte_level_after(
        pre_tokenizers.Split(Regex(r"\s+|\p{P}"), behavior=behavior)))
variant("cl100k", "split with an unknown pattern", pre_tokenizer=byte_level_after(
    pre_tokenizers.Split(Regex(r"\p{Lu}\p{Ll}+|\d+(?=\.)|(?i:ab)c|[\p{Han}]"), behavior="isolated")))
variant("cl100k", "split with GPT-2's pattern", pre_tokenizer=byte_level_after(
    pre_tokenizers.Split(Regex(shapes.GPT2), behavior="isolated")))
variant("cl100k", "split with Qwen-2's pattern", pre_tokenizer=byte_level_after(
    pre_tokenizers.Split(Regex(shapes.QWEN2), behavior="isolated")))
variant("cl100k", "byte level with prefix space", pre_tokenizer=shapes.component(
    pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)))
variant("cl100k", "byte level with prefix space, no regex, after whitespace split", pre_tokenizer=shapes.component(
    pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)])))
variant("cl100k", "ignore merges", model={"ignore_merges": True})
variant("falcon", "individual digits", pre_tokenizer=shapes.component(pre_tokenizers.Sequence([
    pre_tokenizers.Punctuation(behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    pre_tokenizers.Digits(individual_digits=True)])))
variant("falcon", "digits and punctuation before byte level", pre_tokenizer=shapes.component(pre_tokenizers.Sequence([
    pre_tokenizers.Digits(individual_digits=False), pre_tokenizers.Punctuation(behavior="merged_with_next"),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])))
for scheme in ["always", "first", "never"]:
    for split in [False, True]:
        variant("sp-metaspace", f"metaspace {scheme} split={split}", pre_tokenizer=shapes.component(
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)),
            decoder=shapes.component(decoders.Sequence([
                decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme=scheme), decoders.Fuse()])))
variant("sp-metaspace", "metaspace after whitespace split and digits", pre_tokenizer=shapes.component(
    pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
                             pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)])))
variant("sp-metaspace", "no byte fallback, unknown fused", model={"byte_fallback": False})
variant("sp-metaspace", "no byte fallback, unknown not fused", model={"byte_fallback": False, "fuse_unk": False})
variant("bpe-options", "fused unknown", model={"fuse_unk": True})
variant("qwen2", "NFKC and lowercase", normalizer=shapes.component(normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])))
variant("qwen2", "strip left, replace regex", normalizer=shapes.component(normalizers.Sequence([
    normalizers.Strip(left=True, right=False), normalizers.Replace(Regex(r"\s+"), " ")])))
variant("llama2", "begin and end of text", post_processor=shapes.begin_of_text("<s>", eos="</s>")(
    Tokenizer.from_str(trained["llama2"])))
variant("cl100k", "roberta processing", post_processor=shapes.component(
    processors.RobertaProcessing(("<|fim_prefix|>", 1), ("<|endoftext|>", 0))))
variant("cl100k", "bert processing", post_processor=shapes.component(
    processors.BertProcessing(("<|fim_prefix|>", 1), ("<|endoftext|>", 0))))
variant("cl100k", "template with B before A", post_processor=shapes.component(processors.TemplateProcessing(
    single="$A <|endoftext|>", pair="<|fim_prefix|> $B:1 <|endoftext|> $A", special_tokens=[("<|endoftext|>", 0), ("<|fim_prefix|>", 1)])))
variant("sp-prepend", "strip decoder both ends", decoder=shapes.component(decoders.Sequence([
    decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Strip(" ", 2, 1)])))
write(f"{out}/variants.json", variants)
print(f"variants: {len(variants)}")
