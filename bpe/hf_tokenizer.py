"""HFTokenizer: a Tokenizer that follows Hugging Face's rules where they differ from tiktoken's.

Read from tokenizer.json or GPT-2's vocab.json + merges.txt (`bpe.from_pretrained`). Encoding
a text goes:

1. cut out the added tokens (`bpe.added_tokens`): the special ones only where `encode`
   allows them (tiktoken's rules, so `allowed_special="all"` is Hugging Face's
   `tokenizer(text, add_special_tokens=False)`), the others always;
2. normalise what is left (NFC, if the file says so), and cut out the added tokens marked
   "normalized", which are looked for in normalised text;
3. cut the rest into chunks with the pre-tokeniser pipeline (`bpe.pretokenizers`);
4. merge each chunk's bytes by the listed pairs (`bpe.bytepair`, `by_pair`), after looking
   the whole chunk up first only if the file sets `ignore_merges` (Llama 3 does).

The ids a model's input adds around a text (Llama 3's <|begin_of_text|>) are in
`tokenizer.input_template`, read from the file's post-processor.
"""
import json

from bpe.added_tokens import added_token_regex, cut_added_tokens
from bpe.tokenizer import InputTemplate, Tokenizer


class HFTokenizer(Tokenizer):
    """A byte-level BPE with Hugging Face's rules.

    token_bytes:    dict id -> bytes of the vocabulary's tokens that BPE can produce.
    merges:         list of (left id, right id, merged id), in rank order (a pair listed twice
                    takes its later rank, as in Hugging Face).
    pre_tokenizer:  a `bpe.pretokenizers.PreTokenizer` (normaliser and steps).
    added_tokens:   list of `bpe.added_tokens.AddedToken`.
    ignore_merges:  look a whole chunk up before merging (see `Tokenizer`).
    input_template: an `InputTemplate`.
    decode_only:    dict id -> bytes of ids that decode but that encoding never produces
                    (vocabulary entries that are not byte-level strings).
    documents:      dict file name -> the JSON read (tokenizer.json, tokenizer_config.json),
                    which `bpe.save_pretrained` writes back.
    built_as:       the transformers tokenizer class whose reading of the files this follows
                    (`bpe.tokenizer_classes`): "TokenizersBackend" reads tokenizer.json as
                    written, "GPT2Tokenizer" and the like build their own pipeline.
    """

    def __init__(self, token_bytes, merges, pre_tokenizer, added_tokens=(), ignore_merges=False,
                 input_template=None, decode_only=None, documents=None,
                 built_as="TokenizersBackend"):
        merge_ids = {}
        for left, right, merged in merges:
            merge_ids.setdefault((left, right), merged)
        super().__init__(token_bytes, None, merges=merge_ids)
        self.pattern = pre_tokenizer.pattern
        self.pre_tokenizer = pre_tokenizer
        self.added_tokens = list(added_tokens)
        self.special_tokens = {token.content: token.id for token in self.added_tokens
                               if token.special}
        self.ignore_merges = ignore_merges
        self.input_template = input_template or InputTemplate()
        self.documents = dict(documents or {})
        self.built_as = built_as
        self._by_pair = True
        self._ranks = {(token_bytes[left], token_bytes[right]): rank
                       for rank, (left, right, _) in enumerate(merges)}
        self._cutters = {}
        self._add_decode_only(decode_only or {})

    def _add_decode_only(self, decode_only):
        """Ids that the base tables lack: added tokens (an added token may also be in the
        vocabulary, with the same bytes: Hugging Face keeps both) and `decode_only`."""
        self._id_to_bytes.update(decode_only)
        for token in self.added_tokens:
            token_bytes = token_string_bytes(token.content)
            known = self._id_to_bytes.get(token.id)
            if known is not None and known != token_bytes:
                raise ValueError(f"added token {token.content!r} has id {token.id}, which the "
                                 f"vocabulary gives to {known!r}")
            self._id_to_bytes[token.id] = token_bytes
        self._vocab_size = max(self._id_to_bytes) + 1

    def _split(self, text):
        return self.pre_tokenizer(text)

    def _encode_text(self, text, allowed):
        """Steps 1 to 3 of the module docstring, then the chunks' ids."""
        raw, normalized = self._cutter(frozenset(allowed))
        ids = []
        for piece, token_id in cut_added_tokens(text, *raw):
            if piece is None:
                ids.append(token_id)
                continue
            for part, part_id in cut_added_tokens(self.pre_tokenizer.normalize(piece),
                                                  *normalized):
                if part is None:
                    ids.append(part_id)
                else:
                    ids.extend(self._encode_plain(part))
        return ids

    def _cutter(self, allowed):
        """The regexes that cut out the added tokens to find in raw and in normalised text
        when the special tokens `allowed` may appear (remembered per set)."""
        cutter = self._cutters.get(allowed)
        if cutter is None:
            wanted = [token for token in self.added_tokens
                      if not token.special or token.content in allowed]
            cutter = (added_token_regex([t for t in wanted if not t.normalized]),
                      added_token_regex([t for t in wanted if t.normalized]))
            self._cutters[allowed] = cutter
        return cutter

    def save(self, path):
        raise ValueError("this tokenizer was read from Hugging Face files; write it with "
                         "bpe.save_pretrained(tokenizer, directory)")

    def __repr__(self):
        return (f"HFTokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={len(self.special_tokens)}, ignore_merges={self.ignore_merges})")


def bytes_to_unicode():
    """GPT-2's table byte value -> printable character.

    Merge files are text, and a raw byte like 0x20 (space) or 0x0a (newline) cannot sit in a
    whitespace-separated line. So every byte gets a visible stand-in: bytes that already print
    as themselves (most of Latin-1) keep their character, the other 68 are moved to
    characters 256, 257, ... in byte order. That is why a space shows up as "Ġ" (chr(256 + 32))
    in GPT-2's files, and in every byte-level tokenizer.json.
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


CHAR_OF_BYTE = bytes_to_unicode()
BYTE_OF_CHAR = {char: byte for byte, char in CHAR_OF_BYTE.items()}


def token_string_bytes(text):
    """The bytes a token string of a byte-level file stands for: each character is one byte
    (`bytes_to_unicode`). A string with a character outside that alphabet ("<|endoftext|>" is
    inside; "日本" is not) is its own UTF-8, as Hugging Face's ByteLevel decoder has it."""
    try:
        return bytes([BYTE_OF_CHAR[char] for char in text])
    except KeyError:
        return text.encode("utf-8")


def is_byte_level(text):
    """True if every character of `text` stands for a byte (see `token_string_bytes`)."""
    return all(char in BYTE_OF_CHAR for char in text)


def byte_level_string(token):
    """The printable string a byte-level file writes for `token` (bytes)."""
    return "".join([CHAR_OF_BYTE[byte] for byte in token])


# ---- shared by the readers of tokenizer.json and of GPT-2's files ----

def read_json_file(path, what):
    """The JSON value in `path`; a ValueError naming the file and `what` it should hold."""
    with open(path, "rb") as file:
        raw = file.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not {what}: not UTF-8 text (byte offset {err.start})") \
            from None
    except ValueError as err:
        raise ValueError(f"{path} is not {what} ({err})") from None


def check_vocabulary(vocab, where):
    """A ValueError unless `vocab` maps token strings to distinct ids >= 0."""
    if not isinstance(vocab, dict) or not all(
            isinstance(token_id, int) and not isinstance(token_id, bool) and token_id >= 0
            for token_id in vocab.values()):
        raise ValueError(f"{where} should map token strings to ids >= 0")
    if len(set(vocab.values())) != len(vocab):
        seen = {}
        for text, token_id in vocab.items():
            if token_id in seen:
                raise ValueError(f"{where} gives id {token_id} to both {seen[token_id]!r} and "
                                 f"{text!r}")
            seen[token_id] = text


def vocabulary_tables(vocab, merges, vocab_where):
    """The tables HFTokenizer takes, from a byte-level vocabulary (token string -> id) and its
    merges, a list of (where, left string, right string) in rank order.

    Returns token_bytes (id -> bytes of the tokens BPE can produce), merges as (left id, right
    id, merged id), and decode_only (id -> bytes of vocabulary entries that are not byte-level
    strings, which BPE never produces)."""
    token_bytes, decode_only = {}, {}
    for text, token_id in vocab.items():
        table = token_bytes if is_byte_level(text) else decode_only
        table[token_id] = token_string_bytes(text)
    merge_ids = []
    for where, left, right in merges:
        for token in (left, right, left + right):
            if token not in vocab:
                raise ValueError(f"{where}: token {token!r} is not in {vocab_where}")
        ids = (vocab[left], vocab[right], vocab[left + right])
        if all(token_id in token_bytes for token_id in ids):   # others can never apply
            merge_ids.append(ids)
    return token_bytes, merge_ids, decode_only
