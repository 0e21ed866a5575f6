"""Reading other tokenizers' files: tiktoken rank files, GPT-2's vocabulary + merges, and
Hugging Face's tokenizer.json.

tiktoken (`cl100k_base.tiktoken`): one line per token, "base64(token bytes) rank". The rank IS
the token id, and merging by rank is exactly what `bpe.bytepair` does. The file holds neither
the pattern nor the special tokens, so the caller supplies both. The result is a `Tokenizer`.

GPT-2 (`vocab.json` + `merges.txt` in Hugging Face's names, `encoder.json` + `vocab.bpe` in
OpenAI's): the vocabulary maps each token, written as printable characters (see
`bytes_to_unicode`), to its id; merges.txt lists the merges in order, one "left right" per line,
so a merge's rank is its line number. Token ids need not follow merge order: in OpenAI's GPT-2
merge r makes id 256 + r, but a Hugging Face vocabulary may put a special token at id 0 and the
byte tokens in character order after it. So the ranks come from merges.txt and the ids from
the vocabulary, each from its own file. Vocabulary entries that are neither a byte nor the
result of a merge (such as "<|endoftext|>") are the special tokens, with the ids the file gives.
The result is an `HFTokenizer` (Hugging Face's rules: merges by listed pair), and a
tokenizer_config.json beside them may ask for a BOS or EOS token around each text
("add_bos_token", "add_eos_token"), as transformers' GPT2Tokenizer does.

tokenizer.json: see `bpe.tokenizer_json`. A directory with it is read from it, as transformers
does, even if GPT-2's files are there too.
"""
import base64
import binascii
import json
import os

from bpe.added_tokens import AddedToken
from bpe.hf_tokenizer import (CHAR_OF_BYTE, HFTokenizer, byte_level_string, bytes_to_unicode,
                              check_vocabulary, read_json_file, vocabulary_tables)
from bpe.model_file import write_text_atomically
from bpe.patterns import GPT2_PATTERN
from bpe.pretokenizers import pre_tokenizer_from_json
from bpe.tokenizer import InputTemplate, Tokenizer
from bpe.tokenizer_classes import gpt2_files_class
from bpe.tokenizer_json import (TOKENIZER_CONFIG, TOKENIZER_JSON, read_tokenizer_json,
                                write_tokenizer_json)

__all__ = ["bytes_to_unicode", "from_pretrained", "from_tiktoken", "save_pretrained"]


def from_tiktoken(path, pattern, special_tokens):
    """A tokenizer from a .tiktoken rank file, with the caller's pattern and special tokens
    (a dict text -> id, e.g. {"<|endoftext|>": 100257})."""
    token_bytes = {}
    with open(path, "rb") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                encoded, rank = line.split()
                token_bytes[int(rank)] = base64.b64decode(encoded, validate=True)
            except (ValueError, binascii.Error):
                raise ValueError(f"{path}, line {line_number}: expected 'base64 rank', "
                                 f"got {line[:60]!r}") from None
    return Tokenizer(token_bytes, pattern, special_tokens)


def from_pretrained(directory):
    """A tokenizer from a Hugging Face directory: `tokenizer.json`, or GPT-2's `vocab.json` +
    `merges.txt` (OpenAI's names: `encoder.json` + `vocab.bpe`), with `tokenizer_config.json`
    if it is there. The ids a model's input puts around a text are in
    `tokenizer.input_template`."""
    if os.path.isfile(os.path.join(directory, TOKENIZER_JSON)):
        return read_tokenizer_json(directory)
    for vocab_name, merges_name in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
        vocab_path = os.path.join(directory, vocab_name)
        merges_path = os.path.join(directory, merges_name)
        if os.path.isfile(vocab_path) and os.path.isfile(merges_path):
            return read_gpt2_files(vocab_path, merges_path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no such directory: {directory}")
    raise FileNotFoundError(f"{directory} holds neither tokenizer.json, nor vocab.json + "
                            f"merges.txt, nor encoder.json + vocab.bpe")


def save_pretrained(tokenizer, directory):
    """Write `tokenizer` into `directory` as Hugging Face files that transformers'
    AutoTokenizer and `from_pretrained` read back to the same ids: the tokenizer.json (and
    tokenizer_config.json) it was read from, or else GPT-2 files (`vocab.json` + `merges.txt`,
    and the tokenizer_config.json it was read with, if any).

    GPT-2 files can only say so much: the pattern must be GPT-2's, the merges must be known
    (a trained or GPT-2 tokenizer, not a tiktoken rank file) and no two tokens may have the
    same bytes (the vocabulary is keyed by the token's text). Otherwise a ValueError says why.
    """
    documents = tokenizer.documents if isinstance(tokenizer, HFTokenizer) else {}
    if TOKENIZER_JSON in documents:
        write_tokenizer_json(tokenizer, directory)
        return
    # read from GPT-2 files, its pipeline is GPT2Tokenizer's for the tokenizer_config.json
    # written back with them (add_prefix_space may make it more than the pattern)
    read_as_gpt2 = isinstance(tokenizer, HFTokenizer) and tokenizer.built_as == "GPT2Tokenizer"
    if tokenizer.pattern != GPT2_PATTERN and not read_as_gpt2:
        raise ValueError("GPT-2 files imply GPT-2's split pattern; this tokenizer uses another")
    if not tokenizer.merges:
        raise ValueError("GPT-2 files list merges, and this tokenizer does not know its own")
    vocab = {}
    for token_id in range(tokenizer.vocab_size):
        if token_id in tokenizer.special_tokens.values():
            continue
        text = byte_level_string(tokenizer.token_bytes(token_id))
        if text in vocab:
            raise ValueError(f"tokens {vocab[text]} and {token_id} have the same bytes, which "
                             f"a GPT-2 vocabulary cannot hold")
        vocab[text] = token_id
    vocab.update(tokenizer.special_tokens)
    merge_lines = ["#version: 0.2"]
    for left, right in tokenizer.merges:
        merge_lines.append(" ".join(byte_level_string(tokenizer.token_bytes(part))
                                    for part in (left, right)))
    write_text_atomically(os.path.join(directory, "vocab.json"),
                          json.dumps(vocab, ensure_ascii=False))
    write_text_atomically(os.path.join(directory, "merges.txt"), "\n".join(merge_lines) + "\n")
    if TOKENIZER_CONFIG in documents:
        write_text_atomically(os.path.join(directory, TOKENIZER_CONFIG),
                              json.dumps(documents[TOKENIZER_CONFIG], ensure_ascii=False,
                                         indent=2) + "\n")


def read_gpt2_files(vocab_path, merges_path):
    """An HFTokenizer from a GPT-2 vocabulary (JSON: token string -> id) and merge list, with
    the tokenizer_config.json beside them if there is one."""
    vocab = read_vocab(vocab_path)
    merge_lines = read_merge_lines(merges_path)
    merges = [(f"{merges_path}, line {line_number}", left, right)
              for line_number, left, right in merge_lines]
    token_bytes, merge_ids, decode_only = vocabulary_tables(vocab, merges, vocab_path)
    produced = {left + right for _, left, right in merges} | set(CHAR_OF_BYTE.values())
    specials = [AddedToken(text, token_id) for text, token_id in vocab.items()
                if text not in produced]
    documents, template, config = {}, InputTemplate(), {}
    directory = os.path.dirname(vocab_path)
    config_path = os.path.join(directory, TOKENIZER_CONFIG)
    if os.path.isfile(config_path):
        config = read_json_file(config_path, "a tokenizer config (JSON)")
        if not isinstance(config, dict):
            raise ValueError(f"{config_path} should hold a JSON object")
        documents[TOKENIZER_CONFIG] = config
        template = gpt2_template(config, {token.content: token.id for token in specials},
                                 config_path)
    gpt2 = gpt2_files_class(directory, config)
    try:
        normalizer, steps = gpt2.pipeline_json(config)        # add_prefix_space applies
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from None
    return HFTokenizer(token_bytes, merge_ids, pre_tokenizer_from_json(steps, normalizer),
                       specials, ignore_merges=False,
                       input_template=template, decode_only=decode_only, documents=documents,
                       built_as="GPT2Tokenizer")


def gpt2_template(config, special_ids, config_path):
    """The ids around a text that transformers' GPT2Tokenizer adds for tokenizer_config.json's
    add_bos_token / add_eos_token (its bos and eos default to <|endoftext|>)."""
    ids = {}
    for end in ("bos", "eos"):
        if not config.get(f"add_{end}_token"):
            continue
        name = config.get(f"{end}_token", "<|endoftext|>")
        name = name.get("content") if isinstance(name, dict) else name
        if name not in special_ids:
            raise ValueError(f"{config_path} sets add_{end}_token, but its {end}_token "
                             f"{name!r} is not a special token of the vocabulary")
        ids[end] = (special_ids[name],)
    return InputTemplate(ids.get("bos", ()), ids.get("eos", ()))


def read_vocab(vocab_path):
    """The vocabulary file: a JSON object token string -> id."""
    vocab = read_json_file(vocab_path, "a JSON vocabulary")
    check_vocabulary(vocab, vocab_path)
    return vocab


def read_merge_lines(merges_path):
    """The merges as (line number, left, right), skipping the "#version" header and blanks."""
    merge_lines = []
    with open(merges_path, "rb") as file:
        raw = file.read()
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{merges_path} is not UTF-8 text (byte offset {err.start})") from None
    for line_number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")  # files written on Windows
        if not line or (line_number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{merges_path}, line {line_number}: expected 'left right', "
                             f"got {line[:60]!r}")
        merge_lines.append((line_number, parts[0], parts[1]))
    return merge_lines
