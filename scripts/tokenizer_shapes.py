"""tokenizer_shapes.py — the tokenizer shapes of released language models, trained small with
Hugging Face `tokenizers`: byte-level BPE behind a Split regex (cl100k / Llama-3 / OLMo-2,
o200k, Qwen-2), Falcon's Punctuation/ByteLevel/Digits/three-digit Split sequence, and
SentencePiece-style BPE with byte fallback (the Metaspace pre-tokenizer, or the
Prepend + Replace normaliser of Llama-2's converted tokenizer); llama3 and llama2 carry the
TemplateProcessing post-processor of the released files (a begin-of-text token). Shared by
make_tokenizer_fixtures.py and check_tokenizer_shapes.py."""
import json

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# The Split patterns as released tokenizer.json files spell them.
CL100K = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
O200K = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
    r"\s+(?!\S)",
    r"\s+",
])
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
THREE_DIGITS = "[0-9][0-9][0-9]"

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def split_then_byte_level(pattern):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def byte_level_shape(pre_tokenizer, specials, normalizer=None, ignore_merges=False, components=None):
    tokenizer = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.ByteLevel()
    trainer = lambda vocab: trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    return tokenizer, trainer, components


def sentencepiece_shape(components):
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = lambda vocab: trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>"] + BYTE_TOKENS, show_progress=False,
        limit_alphabet=120)
    return tokenizer, trainer, components


def bpe_options_shape():
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=False, continuing_subword_prefix="##",
                                     end_of_word_suffix="</w>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenizer.decoder = decoders.Sequence([
        decoders.Replace("##", ""), decoders.Replace("</w>", " "), decoders.Fuse(), decoders.Strip(" ", 0, 1)])
    trainer = lambda vocab: trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["[UNK]", "[SEP]"], show_progress=False, limit_alphabet=80,
        continuing_subword_prefix="##", end_of_word_suffix="</w>")
    return tokenizer, trainer, None


def component(value):
    """A component's JSON, as tokenizers writes it."""
    holder = Tokenizer(models.BPE())
    if isinstance(value, processors.PostProcessor):
        holder.post_processor = value
        return json.loads(holder.to_str())["post_processor"]
    if isinstance(value, pre_tokenizers.PreTokenizer):
        holder.pre_tokenizer = value
        return json.loads(holder.to_str())["pre_tokenizer"]
    if isinstance(value, normalizers.Normalizer):
        holder.normalizer = value
        return json.loads(holder.to_str())["normalizer"]
    holder.decoder = value
    return json.loads(holder.to_str())["decoder"]


def begin_of_text(bos, byte_level=False, eos=None):
    """Llama's post-processor: `bos` before each text (and `eos` after it, as some files
    have), behind a ByteLevel one for byte-level files (Llama-3, OLMo-2)."""
    single = f"{bos} $A" + (f" {eos}" if eos else "")
    pair = single + f" {bos}:1 $B:1" + (f" {eos}:1" if eos else "")
    def make(tokenizer):
        specials = [(bos, tokenizer.token_to_id(bos))] + ([(eos, tokenizer.token_to_id(eos))] if eos else [])
        template = processors.TemplateProcessing(single=single, pair=pair, special_tokens=specials)
        if byte_level:
            return component(processors.Sequence([processors.ByteLevel(trim_offsets=False), template]))
        return component(template)
    return make


SP_METASPACE = {
    "decoder": lambda _: component(decoders.Sequence([
        decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first"), decoders.Fuse()])),
}
SP_PREPEND = {
    "normalizer": lambda _: component(normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])),
    "pre_tokenizer": lambda _: None,
    "decoder": lambda _: component(decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])),
}
LLAMA2 = dict(SP_PREPEND, post_processor=begin_of_text("<s>"))

SHAPES = {
    "cl100k": lambda: byte_level_shape(split_then_byte_level(CL100K), ["<|endoftext|>", "<|fim_prefix|>"]),
    "llama3": lambda: byte_level_shape(
        split_then_byte_level(CL100K), ["<|begin_of_text|>", "<|end_of_text|>"], ignore_merges=True,
        components={"post_processor": begin_of_text("<|begin_of_text|>", byte_level=True)}),
    "o200k": lambda: byte_level_shape(split_then_byte_level(O200K), ["<|endoftext|>", "<|endofprompt|>"]),
    "qwen2": lambda: byte_level_shape(
        split_then_byte_level(QWEN2), ["<|endoftext|>", "<|im_start|>"], normalizer=normalizers.NFC()),
    "falcon": lambda: byte_level_shape(pre_tokenizers.Sequence([
        pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Split(Regex(THREE_DIGITS), behavior="isolated", invert=False),
    ]), [">>TITLE<<", "<|endoftext|>"]),
    "sp-metaspace": lambda: sentencepiece_shape(SP_METASPACE),
    "sp-prepend": lambda: sentencepiece_shape(SP_PREPEND),
    "llama2": lambda: sentencepiece_shape(LLAMA2),
    "bpe-options": bpe_options_shape,
}


def train(shape, texts, vocab_size):
    """A tokenizer of `shape` trained on `texts` (an iterable of strings), as tokenizer.json text."""
    tokenizer, trainer, components = SHAPES[shape]()
    tokenizer.train_from_iterator(texts, trainer(vocab_size))
    data = json.loads(tokenizer.to_str())
    # SentencePiece's byte tokens are ordinary vocabulary entries, not added tokens.
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in BYTE_TOKENS]
    for key, make in (components or {}).items():
        data[key] = make(tokenizer)
    text = json.dumps(data, ensure_ascii=False)
    Tokenizer.from_str(text)  # the library loads what it is given
    return text


def special_token(tokenizer_json):
    """The first special token that is not <unk>-like, to put inside words."""
    for token in json.loads(tokenizer_json)["added_tokens"]:
        if token["content"] not in ("<unk>", "[UNK]"):
            return token["content"]
    return None
