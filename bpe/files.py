"""Reading other tokenizers' files: tiktoken rank files and GPT-2's vocabulary + merges.

Both become an ordinary `Tokenizer`; only the tables differ.

tiktoken (`cl100k_base.tiktoken`): one line per token, "base64(token bytes) rank". The rank IS
the token id, and merging by rank is exactly what `bpe.bytepair` does. The file holds neither
the pattern nor the special tokens, so the caller supplies both.

GPT-2 (`vocab.json` + `merges.txt` in Hugging Face's names, `encoder.json` + `vocab.bpe` in
OpenAI's): the vocabulary maps each token, written as printable characters (see
`bytes_to_unicode`), to its id; merges.txt lists the merges in order, one "left right" per line,
so a merge's rank is its line number. Token ids need not follow merge order: in OpenAI's GPT-2
merge r makes id 256 + r, but a Hugging Face vocabulary may put a special token at id 0 and the
byte tokens in character order after it. So the ranks come from merges.txt and the ids from
the vocabulary, each from its own file. Vocabulary entries that are neither a byte nor the
result of a merge (such as "<|endoftext|>") are the special tokens, with the ids the file gives.
"""
import base64
import binascii
import json
import os

from bpe.model_file import write_text_atomically
from bpe.patterns import GPT2_PATTERN
from bpe.tokenizer import Tokenizer


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


def bytes_to_unicode():
    """GPT-2's table byte value -> printable character.

    Merge files are text, and a raw byte like 0x20 (space) or 0x0a (newline) cannot sit in a
    whitespace-separated line. So every byte gets a visible stand-in: bytes that already print
    as themselves (most of Latin-1) keep their character, the other 68 are moved to
    characters 256, 257, ... in byte order. That is why a space shows up as "Ġ" (chr(256 + 32))
    in GPT-2's files.
    """
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table = {}
    moved = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + moved)
            moved += 1
    return table


def from_pretrained(directory):
    """A tokenizer from a GPT-2 style directory: `vocab.json` + `merges.txt`, or
    `encoder.json` + `vocab.bpe`."""
    for vocab_name, merges_name in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
        vocab_path = os.path.join(directory, vocab_name)
        merges_path = os.path.join(directory, merges_name)
        if os.path.isfile(vocab_path) and os.path.isfile(merges_path):
            return read_gpt2_files(vocab_path, merges_path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no such directory: {directory}")
    raise FileNotFoundError(f"{directory} holds neither vocab.json + merges.txt nor "
                            f"encoder.json + vocab.bpe")


def save_pretrained(tokenizer, directory):
    """Write `tokenizer` as GPT-2 files (`vocab.json` + `merges.txt`) into `directory`, which
    Hugging Face's GPT2Tokenizer and `from_pretrained` read back.

    GPT-2 files can only say so much: the pattern must be GPT-2's, the merges must be known
    (a trained or GPT-2 tokenizer, not a tiktoken rank file) and no two tokens may have the
    same bytes (the vocabulary is keyed by the token's text). Otherwise a ValueError says why.
    """
    if tokenizer.pattern != GPT2_PATTERN:
        raise ValueError("GPT-2 files imply GPT-2's split pattern; this tokenizer uses another")
    if not tokenizer.merges:
        raise ValueError("GPT-2 files list merges, and this tokenizer does not know its own")
    text_of = bytes_to_unicode()
    vocab = {}
    for token_id in range(tokenizer.vocab_size):
        if token_id in tokenizer.special_tokens.values():
            continue
        text = "".join(text_of[b] for b in tokenizer.token_bytes(token_id))
        if text in vocab:
            raise ValueError(f"tokens {vocab[text]} and {token_id} have the same bytes, which "
                             f"a GPT-2 vocabulary cannot hold")
        vocab[text] = token_id
    vocab.update(tokenizer.special_tokens)
    merge_lines = ["#version: 0.2"]
    for left, right in tokenizer.merges:
        merge_lines.append(" ".join("".join(text_of[b] for b in tokenizer.token_bytes(part))
                                    for part in (left, right)))
    write_text_atomically(os.path.join(directory, "vocab.json"),
                          json.dumps(vocab, ensure_ascii=False))
    write_text_atomically(os.path.join(directory, "merges.txt"), "\n".join(merge_lines) + "\n")


def read_gpt2_files(vocab_path, merges_path):
    """A tokenizer from a GPT-2 vocabulary (JSON: token string -> id) and merge list."""
    vocab = read_vocab(vocab_path)
    merge_lines = read_merge_lines(merges_path)
    byte_of_char = {char: byte for byte, char in bytes_to_unicode().items()}

    def to_bytes(token):
        return bytes([byte_of_char[char] for char in token])

    token_bytes = {vocab[char]: bytes([byte])
                   for byte, char in bytes_to_unicode().items() if char in vocab}
    ranks, merges = {}, {}
    for rank, (line_number, left, right) in enumerate(merge_lines):
        for token in (left, right, left + right):
            if token not in vocab:
                raise ValueError(f"{merges_path}, line {line_number}: token {token!r} is not "
                                 f"in {vocab_path}")
        merged_bytes = to_bytes(left + right)
        ranks.setdefault(merged_bytes, rank)
        token_bytes[vocab[left + right]] = merged_bytes
        merges[(vocab[left], vocab[right])] = vocab[left + right]
    special_tokens = {token: token_id for token, token_id in vocab.items()
                      if token_id not in token_bytes}
    return Tokenizer(token_bytes, GPT2_PATTERN, special_tokens, ranks=ranks, merges=merges)


def read_vocab(vocab_path):
    """The vocabulary file: a JSON object token string -> id."""
    with open(vocab_path, "rb") as file:
        raw = file.read()
    try:
        vocab = json.loads(raw.decode("utf-8"))
    except ValueError as err:  # invalid UTF-8 or invalid JSON
        raise ValueError(f"{vocab_path} is not a JSON vocabulary ({err})") from None
    if not isinstance(vocab, dict) or not all(
            isinstance(token_id, int) and token_id >= 0 for token_id in vocab.values()):
        raise ValueError(f"{vocab_path} should map token strings to ids >= 0")
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
