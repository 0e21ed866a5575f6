"""The tokenizers a GPT checkpoint directory can carry, and how they are stored there.

A checkpoint directory holds exactly one of:

    tokenizer.chars.json       a character vocabulary (our format, below)
    tokenizer.bpe              a `bpe` tokenizer in bpe's own readable format (`bpe.load`)
    vocab.json + merges.txt    GPT-2's files (Hugging Face names; or encoder.json + vocab.bpe)
    tokenizer.json             Hugging Face's byte-level BPE (Llama 3, Qwen2, ...), read by
                               `bpe.from_pretrained` and written back by `bpe.save_pretrained`

A BPE tokenizer that uses GPT-2's split pattern is written as GPT-2 files too, so Hugging Face
tools can read the directory. `tokenizer.chars.json` is a JSON object:

    {"format": "tinygpt-chars", "version": 1, "chars": ["\\n", " ", "!", ...]}

where token id i is the character chars[i].
"""
import json
from pathlib import Path

import bpe
from tinytorch.serialization import atomic_write

from .hf_checkpoint import CONFIG_FILE, read_config, read_json

CHARS_FILE = "tokenizer.chars.json"
BPE_FILE = "tokenizer.bpe"
END_OF_TEXT = "<|endoftext|>"          # what the models trained here end a document with
# What other families call it: Llama 3 <|end_of_text|>, Llama 2 and many others </s>.
END_OF_TEXT_NAMES = (END_OF_TEXT, "<|end_of_text|>", "</s>")


class CharTokenizer:
    """One token per character: the classic char-level language-model setting."""

    input_template = bpe.InputTemplate()          # nothing goes around a text's ids

    def __init__(self, chars):
        self.chars = list(chars)
        for ch in self.chars:
            if not (isinstance(ch, str) and len(ch) == 1) or "\ud800" <= ch <= "\udfff":
                raise ValueError(f"a character vocabulary holds single characters (not "
                                 f"surrogates), got {ch!r}")
        self.ids = {ch: i for i, ch in enumerate(self.chars)}
        if len(self.ids) != len(self.chars):
            raise ValueError("a character vocabulary lists a character twice")
        if not self.chars:
            raise ValueError("a character vocabulary needs at least one character")
        self.special_tokens = {}

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text, allowed_special=None):
        return self.encode_ordinary(text)        # no special tokens: all text is ordinary

    def encode_ordinary(self, text):
        """One id per character; a character outside the vocabulary is a ValueError."""
        unknown = sorted(set(text) - self.ids.keys())
        if unknown:
            raise ValueError(f"characters not in this model's vocabulary: {unknown[:10]!r}")
        return [self.ids[ch] for ch in text]

    def decode_bytes(self, ids):
        return self.decode(ids).encode("utf-8")

    def decode(self, ids, errors="replace"):
        for i in ids:
            if not 0 <= i < len(self.chars):
                raise ValueError(f"token id {i} is outside the vocabulary of size "
                                 f"{len(self.chars)}")
        return "".join(self.chars[i] for i in ids)

    def save(self, path):
        text = json.dumps({"format": "tinygpt-chars", "version": 1, "chars": self.chars},
                          ensure_ascii=False)
        with atomic_write(path) as f:
            f.write(text.encode("utf-8"))

    @classmethod
    def load(cls, path):
        """The vocabulary saved in `path`; anything else there is an error naming it."""
        data = read_json(path)
        if not (isinstance(data, dict) and data.get("format") == "tinygpt-chars"):
            raise ValueError(f"{path} is not a character vocabulary file (a JSON object "
                             f'{{"format": "tinygpt-chars", "version": 1, "chars": [...]}})')
        if data.get("version") != 1:
            raise ValueError(f"{path} is version {data.get('version')!r} of the format; this "
                             f"reader knows version 1")
        if not isinstance(data.get("chars"), list):
            raise ValueError(f"{path}: chars must be a list of characters, got "
                             f"{data.get('chars')!r}"[:200])
        try:
            return cls(data["chars"])
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def end_of_text_id(tokenizer):
    """The id of the tokenizer's end-of-text token (<|endoftext|>, or another family's name
    for it: END_OF_TEXT_NAMES), or None (read from it, never assumed)."""
    for name in END_OF_TEXT_NAMES:
        if name in tokenizer.special_tokens:
            return tokenizer.special_tokens[name]
    return None


def encode_prompt(tokenizer, text):
    """The ids a model is given for `text`: special tokens written in it taken as such, and the
    checkpoint's template around them (Llama 3's begin-of-text first), as Hugging Face's
    AutoTokenizer(text) gives them."""
    return tokenizer.input_template.apply(tokenizer.encode(text, allowed_special="all"))


def encode_text(tokenizer, text):
    """The ids of a plain text (data, a message to classify, an instruction) as the start of a
    model's input: special-token strings in it stay ordinary text (data never makes a special
    token), after the template's opening ids (Llama 3's begin-of-text; none for GPT-2)."""
    return [*tokenizer.input_template.before, *tokenizer.encode_ordinary(text)]


def output_bytes(tokenizer, ids):
    """The bytes of token ids a model produced, as Hugging Face's decode gives them (see
    without_padding)."""
    return tokenizer.decode_bytes(without_padding(tokenizer, ids))


def first_different_token(tokenizer, other):
    """The first token id whose bytes differ between two tokenizers (an id only one of them
    has counts), or None when every id reads the same: a draft model must read and write the
    very tokens of the model it drafts for, and equal vocabulary sizes do not show that."""
    for token_id in range(max(tokenizer.vocab_size, other.vocab_size)):
        if token_bytes(tokenizer, token_id) != token_bytes(other, token_id):
            return token_id
    return None


def token_bytes(tokenizer, token_id):
    """The bytes of one token id, or None for an id the tokenizer does not have."""
    try:
        return tokenizer.decode_bytes([token_id])
    except ValueError:
        return None


def without_padding(tokenizer, ids):
    """Token ids a model produced, less those past the tokenizer's last id: padding rows of the
    embedding (Qwen2.5 and Qwen3 pad 151,665 tokens to 151,936 rows, and their logits are as
    wide), which have no text; Hugging Face's decode gives none for them. The model can draw
    such an id, as transformers' generate can. Ids inside the tokenizer's range that it does
    not know stay, for decode to refuse."""
    return [int(i) for i in ids if not is_padding_id(tokenizer, i)]


def is_padding_id(tokenizer, token_id):
    """True for an id of the model's embedding beyond the tokenizer's vocabulary (no text)."""
    return int(token_id) >= tokenizer.vocab_size


def stop_ids(tokenizer, model=None):
    """The ids that end a generated text (one id or a list): the checkpoint's own
    (generation_config.json's eos_token_id, which Llama 3 and Qwen instruct models give as a
    list, else config.json's), else the tokenizer's end-of-text token; None if there is none."""
    for settings in (getattr(model, "generation_config", None),
                     getattr(model, "special_token_ids", None)):
        if settings and settings.get("eos_token_id") is not None:
            return settings["eos_token_id"]
    return end_of_text_id(tokenizer)


def require_end_of_text(tokenizer, why="instruction fine-tuning needs one to mark where a "
                                       "response ends"):
    """The tokenizer's end-of-text id (END_OF_TEXT_NAMES), or a ValueError saying `why` it is
    needed."""
    eot = end_of_text_id(tokenizer)
    if eot is None:
        raise ValueError(f"this model's tokenizer has no {END_OF_TEXT} token; {why}")
    return eot


def padding_id(tokenizer):
    """The id that pads a batch: the tokenizer's <|endoftext|>, as GPT-2 does. Any id would
    give the same logits (nothing reads a padding position), so a tokenizer without one (a
    character vocabulary) pads with 0."""
    eot = end_of_text_id(tokenizer)
    return 0 if eot is None else eot


def start_ids(tokenizer):
    """The ids to start a sample from when there is no prompt: the template's begin-of-text
    (Llama 3), else [<|endoftext|>] (what a document follows in GPT-2's training data), else
    a newline, else the first id (a character vocabulary made from text without newlines has
    no "\n")."""
    if tokenizer.input_template.before:
        return list(tokenizer.input_template.before)
    eot = end_of_text_id(tokenizer)
    if eot is not None:
        return [eot]
    if isinstance(tokenizer, CharTokenizer) and "\n" not in tokenizer.ids:
        return [0]
    return tokenizer.encode_ordinary("\n")


def token_ids_config(tokenizer):
    """config.json's bos_token_id and eos_token_id: the tokenizer's end-of-text token, which
    GPT-2 uses for both (a template's begin-of-text, Llama 3's, is the bos instead). Without
    them HF transformers assumes GPT-2's 50256, which a smaller vocabulary does not have. {}
    for a tokenizer with no end-of-text token."""
    eot = end_of_text_id(tokenizer)
    if eot is None:
        return {}
    before = tokenizer.input_template.before
    return {"bos_token_id": before[0] if before else eot, "eos_token_id": eot}


def save_tokenizer(tokenizer, directory):
    """Write `tokenizer` into a checkpoint directory (see the module docstring)."""
    directory = Path(directory)
    if isinstance(tokenizer, CharTokenizer):
        tokenizer.save(directory / CHARS_FILE)
        return
    try:
        tokenizer.save(directory / BPE_FILE)
    except ValueError:
        # Read from GPT-2 files (a Hugging Face checkpoint such as gpt2-tiny): bpe's own
        # format cannot hold its ids, and GPT-2 files are what it came from.
        bpe.save_pretrained(tokenizer, directory)
        return
    if tokenizer.pattern == bpe.GPT2_PATTERN:
        try:
            bpe.save_pretrained(tokenizer, directory)
        except ValueError:
            pass      # GPT-2 files cannot express this tokenizer; tokenizer.bpe has it all


def load_tokenizer(directory):
    """The tokenizer stored in a checkpoint directory (ours, or any HF GPT-2 directory),
    checked against the model's config.json there (check_fits)."""
    directory = Path(directory)
    if (directory / CHARS_FILE).is_file():
        tokenizer = CharTokenizer.load(directory / CHARS_FILE)
    elif (directory / BPE_FILE).is_file():
        tokenizer = bpe.load(directory / BPE_FILE)
    elif any((directory / name).is_file()
             for name in ("tokenizer.json", "vocab.json", "encoder.json")):
        tokenizer = bpe.from_pretrained(directory)
    else:
        raise FileNotFoundError(f"{directory} holds no tokenizer ({CHARS_FILE}, {BPE_FILE}, "
                                f"Hugging Face's tokenizer.json, or GPT-2's vocab.json + "
                                f"merges.txt)")
    if (directory / CONFIG_FILE).is_file():
        check_fits(tokenizer, read_config(directory), directory)
    return tokenizer


def check_fits(tokenizer, hf, directory):
    """A ValueError if `tokenizer` cannot belong to the model whose config.json says `hf`:
    it has ids beyond the model's vocabulary (they would index past the embedding), or the
    ids config.json gives for end and start of text (eos_token_id, bos_token_id: an id or a
    list of ids) are not special tokens of it. (A model may have more ids than its
    tokenizer: GPT-2's vocabulary is sometimes padded to a round number.)"""
    vocab_size = hf.get("vocab_size")
    if isinstance(vocab_size, int) and tokenizer.vocab_size > vocab_size:
        raise ValueError(f"{directory}: the tokenizer has ids up to {tokenizer.vocab_size - 1} "
                         f"but the model's vocabulary (vocab_size in {CONFIG_FILE}) has "
                         f"{vocab_size}; the tokenizer belongs to another model")
    special_ids = set(tokenizer.special_tokens.values())
    for key in ("eos_token_id", "bos_token_id"):
        ids = hf.get(key) if isinstance(hf.get(key), list) else [hf.get(key)]
        strays = [i for i in ids if isinstance(i, int) and i not in special_ids]
        if strays:
            raise ValueError(f"{directory}: {CONFIG_FILE} says {key} is {strays[0]}, which is "
                             f"not a special token of the tokenizer there (it has "
                             f"{tokenizer.special_tokens or 'none'}); the tokenizer belongs to "
                             f"another model")
