"""The Tokenizer: text to token ids and back.

Encoding has three steps:
1. cut out the special tokens the caller allows (tiktoken's rules, see `encode`);
2. cut the rest into chunks with the regex pattern (`bpe.patterns`);
3. turn each chunk into ids: one dict lookup if the whole chunk is a token (most words are),
   otherwise merge its bytes by rank (`bpe.bytepair`). Results are cached per chunk, since
   the same words come back again and again.

Decoding looks each id up and joins the bytes.

One class serves every source of tokens: `bpe.train` (byte b is id b, merge i makes id 256 + i,
rank = id), tiktoken files (rank = id) and GPT-2 files (ids from vocab.json, ranks from the
line order of merges.txt). What differs is only the tables handed to the constructor.
"""
from dataclasses import dataclass

import regex

from bpe.bytepair import split_by_rank
from bpe.model_file import read_model_file, write_model_file
from bpe.patterns import split_into_chunks

# Chunks longer than this are not cached: they rarely repeat, and caching them would keep
# whole documents alive.
CACHE_MAX_CHUNK_CHARS = 128
# The cache is emptied when it holds this many chunks, so its memory stays bounded.
CACHE_MAX_ENTRIES = 200_000

# Ids index embedding rows: anything past int32 is a damaged file, not a vocabulary.
MAX_TOKEN_ID = 2 ** 31

# A surrogate code point (U+D800..U+DFFF) is one half of a UTF-16 pair and has no UTF-8 form,
# yet a Python str can hold one: JSON's "\ud83d" escapes and os.fsdecode's surrogateescape
# both make them.
_SURROGATE = regex.compile("[\ud800-\udfff]")


def without_surrogates(text):
    """`text` the way tiktoken takes it: a surrogate pair joined into the code point it stands
    for, a lone surrogate replaced by U+FFFD. Every way text enters bpe goes through here.

    Costs nothing for ASCII text and one regex scan (well under a millisecond per megabyte)
    for other text that holds no surrogates, which is nearly all text.

    >>> without_surrogates("\\ud83d\\udc4d and \\ud83d")
    '👍 and �'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__} (decode bytes first)")
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class Tokenizer:
    """A byte-level BPE tokenizer.

    token_bytes:    dict id -> bytes for every ordinary token (all 256 single bytes among them).
    pattern:        the regex that pre-splits text into chunks, or None for no pre-splitting.
    special_tokens: dict text -> id, e.g. {"<|endoftext|>": 100257}; never merged, only
                    produced by `encode` when allowed.
    ranks:          dict bytes -> rank used when merging (lower merges first). Defaults to the
                    token ids themselves, which is right for trained and tiktoken tokenizers.
    merges:         dict (left id, right id) -> merged id, in merge order, when known (trained
                    and GPT-2 tokenizers; a tiktoken file lists ranks only). Used by `save`
                    and `show`, not by encoding.

    Two more attributes say how a chunk becomes ids; `bpe.HFTokenizer` changes them:
    ignore_merges:  True: a chunk that is itself a token is that token, whatever the merges
                    would make of it (tiktoken's rule). False: the merges always run.
    input_template: the ids a model's input puts around one encoded text (`InputTemplate`);
                    none here.
    """

    def __init__(self, token_bytes, pattern, special_tokens=None, ranks=None, merges=None):
        self.pattern = pattern
        self.special_tokens = dict(special_tokens or {})
        self.merges = dict(merges or {})
        self._token_bytes = dict(token_bytes)
        # bytes -> id. If two ids share the same bytes (possible after training) the lower
        # id wins, so encoding is deterministic; decoding handles both.
        self._bytes_to_id = {}
        for token_id in sorted(self._token_bytes):
            self._bytes_to_id.setdefault(self._token_bytes[token_id], token_id)
        self._ranks = self._bytes_to_id if ranks is None else dict(ranks)
        self._check_tables()
        self._id_to_bytes = dict(self._token_bytes)
        for text, token_id in self.special_tokens.items():
            self._id_to_bytes[token_id] = text.encode("utf-8")
        self._vocab_size = max(self._id_to_bytes) + 1
        self._compiled_pattern = None if pattern is None else compile_pattern(pattern)
        self._chunk_cache = {}
        self.ignore_merges = True
        self._by_pair = False           # ranks keyed by bytes (see bpe.bytepair)
        self.input_template = InputTemplate()

    def _check_tables(self):
        missing = [b for b in range(256) if bytes([b]) not in self._bytes_to_id]
        if missing:
            raise ValueError(f"the vocabulary has no token for byte {missing[0]:#04x} "
                             f"({len(missing)} of the 256 bytes are missing)")
        unreachable = self._ranks.keys() - self._bytes_to_id.keys()
        if unreachable:
            raise ValueError(f"{len(unreachable)} ranked byte strings have no token id, "
                             f"e.g. {min(unreachable)!r}")
        for token_id in [*self._token_bytes, *self.special_tokens.values()]:
            if not isinstance(token_id, int) or not 0 <= token_id < MAX_TOKEN_ID:
                raise ValueError(f"token id {token_id!r} is not a whole number from 0 to "
                                 f"{MAX_TOKEN_ID - 1} (an embedding needs a row per id)")
        special_ids = list(self.special_tokens.values())
        if len(set(special_ids)) != len(special_ids):
            raise ValueError(f"two special tokens share an id: {self.special_tokens}")
        for text, token_id in self.special_tokens.items():
            if token_id in self._token_bytes:
                raise ValueError(f"special token {text!r} has id {token_id}, which is also the "
                                 f"id of the ordinary token {self._token_bytes[token_id]!r}")

    @property
    def vocab_size(self):
        """Largest id + 1: the number of rows an embedding table needs."""
        return self._vocab_size

    def token_bytes(self, token_id):
        """The bytes that token `token_id` decodes to (a special token's text, UTF-8)."""
        return self.decode_bytes([token_id])

    # ---- encoding ----

    def encode_ordinary(self, text):
        """Encode `text` ignoring special tokens: "<|endoftext|>" is just seven characters."""
        return self._encode_text(without_surrogates(text), set())

    def _encode_plain(self, text):
        """The ids of `text`, which holds no surrogates, special tokens encoded as text."""
        ids = []
        cache = self._chunk_cache
        for chunk in self._split(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._encode_chunk(chunk)
            ids.extend(chunk_ids)
        return ids

    def _split(self, text):
        if self._compiled_pattern is None:
            return split_into_chunks(text, None)
        return self._compiled_pattern.findall(text)

    def _encode_chunk(self, chunk):
        """The ids of one chunk (a str), remembered in the cache."""
        piece = chunk.encode("utf-8")
        token_id = self._bytes_to_id.get(piece) if self.ignore_merges else None
        if token_id is not None:  # the whole chunk is one token: the common case
            chunk_ids = (token_id,)
        else:
            bytes_to_id = self._bytes_to_id
            parts = split_by_rank(piece, self._ranks, self._by_pair)
            chunk_ids = tuple([bytes_to_id[part] for part in parts])
        if len(chunk) <= CACHE_MAX_CHUNK_CHARS:
            if len(self._chunk_cache) >= CACHE_MAX_ENTRIES:
                self._chunk_cache.clear()
            self._chunk_cache[chunk] = chunk_ids
        return chunk_ids

    def encode(self, text, allowed_special=set(), disallowed_special="all"):
        """Encode `text`, with tiktoken's rules for special tokens.

        allowed_special:    special tokens to encode as their id: a set of strings, or "all".
        disallowed_special: strings that must not appear in `text` at all (a ValueError names
                            the first one found), or "all" = every special token not allowed.
        A special token in neither set is encoded as ordinary text. Where two allowed special
        tokens overlap in the text, the longer one wins.

        The default is therefore strict: text containing "<|endoftext|>" raises, because a user
        string that silently became an end-of-text marker is a classic injection bug.

        Surrogate code points are taken as tiktoken takes them (see `without_surrogates`).
        """
        text = without_surrogates(text)
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        else:
            allowed = set(allowed_special) & set(self.special_tokens)
        if disallowed_special == "all":
            disallowed = set(self.special_tokens) - allowed
        else:
            disallowed = set(disallowed_special)
        if disallowed:
            found = _special_regex(disallowed).search(text)
            if found:
                raise ValueError(
                    f"the text contains the special token {found.group()!r}, which is disallowed: "
                    f"pass allowed_special={{{found.group()!r}}} (or \"all\") to encode it as a "
                    f"special token, or disallowed_special=() to encode it as ordinary text")
        return self._encode_text(text, allowed)

    def _encode_text(self, text, allowed):
        """The ids of `text` (no surrogates), with the special tokens in `allowed` cut out."""
        if not allowed:
            return self._encode_plain(text)
        ids = []
        start = 0
        for found in _special_regex(allowed).finditer(text):
            ids.extend(self._encode_plain(text[start:found.start()]))
            ids.append(self.special_tokens[found.group()])
            start = found.end()
        ids.extend(self._encode_plain(text[start:]))
        return ids

    # ---- decoding ----

    def decode_bytes(self, ids):
        """The bytes of the tokens `ids`, joined. Unknown ids raise a ValueError."""
        if not isinstance(ids, list):
            ids = list(ids)  # a generator could be read only once, and we may need two passes
        id_to_bytes = self._id_to_bytes
        try:
            return b"".join([id_to_bytes[token_id] for token_id in ids])
        except (KeyError, TypeError):
            pass  # find the culprit for a useful message (the fast path above did not)
        for token_id in ids:
            try:
                id_to_bytes[token_id]
            except (KeyError, TypeError):
                raise ValueError(f"unknown token id {token_id!r} "
                                 f"(vocabulary size {self.vocab_size})") from None
        raise AssertionError("unreachable")

    def decode(self, ids, errors="replace"):
        """The text of the tokens `ids`.

        A token can end in the middle of a UTF-8 character (byte-level BPE does not respect
        character boundaries), so a slice of a valid sequence may not be valid UTF-8; with
        errors="replace" such bytes become U+FFFD, with "strict" they raise.
        """
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ---- saving ----

    def save(self, path):
        """Write this tokenizer to one human-readable file that `bpe.load` reads back.

        Only tokenizers laid out as `bpe.train` makes them can be saved (the file stores the
        merges, and the ids follow from their order); one read from tiktoken or GPT-2 files
        is kept in those files.
        """
        if not self._has_trained_layout():
            raise ValueError("save() writes tokenizers made by bpe.train or bpe.load (byte b is "
                             "id b, merge i makes id 256 + i); this one was read from other "
                             "files, so keep those files instead")
        write_model_file(path, self.pattern, self.special_tokens, list(self.merges),
                         self._token_bytes)

    def _has_trained_layout(self):
        """True if byte b is id b and merge i makes id 256 + i, as `bpe.train` lays them out."""
        if len(self._token_bytes) != 256 + len(self.merges):
            return False
        if any(self._token_bytes.get(b) != bytes([b]) for b in range(256)):
            return False
        return all(merged_id == 256 + index
                   for index, merged_id in enumerate(self.merges.values()))

    def __repr__(self):
        return (f"Tokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={len(self.special_tokens)})")


@dataclass(frozen=True)
class InputTemplate:
    """How a model's input is built from one text: the ids put before and after its ids.

    Llama 3's tokenizer.json puts <|begin_of_text|> before (before=(510,) in llama-tiny); GPT-2
    puts nothing. `template.apply(tokenizer.encode(prompt))` gives the ids Hugging Face's
    `AutoTokenizer(prompt)["input_ids"]` gives.
    """
    before: tuple = ()
    after: tuple = ()

    def apply(self, ids):
        """`ids` (a list) with the template's ids around them, as a new list."""
        return [*self.before, *ids, *self.after]


def compile_pattern(pattern):
    """The compiled split pattern, or a ValueError that says what is wrong with it."""
    if not isinstance(pattern, str):
        raise TypeError(f"the split pattern must be a str or None, not {type(pattern).__name__}")
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise ValueError(f"the split pattern is not a valid regex ({err}): {pattern[:60]!r}") \
            from None


def _special_regex(tokens):
    """A regex matching any of `tokens`, longest first so that overlapping tokens resolve to
    the longest one (regex alternation takes the first alternative that matches)."""
    ordered = sorted(tokens, key=lambda token: (-len(token), token))
    return regex.compile("|".join(regex.escape(token) for token in ordered))


def from_merges(merges, pattern, special_tokens=None):
    """The tokenizer that `merges` (a list of (left id, right id), in order) defines: byte b is
    id b, and merge i makes id 256 + i from the bytes of its two parts."""
    token_bytes = {b: bytes([b]) for b in range(256)}
    merge_ids = {}
    for index, (left, right) in enumerate(merges):
        merged_id = 256 + index
        if left not in token_bytes or right not in token_bytes:
            raise ValueError(f"merge {index} ({left}, {right}) uses an id that does not exist "
                             f"before it (ids so far: 0..{merged_id - 1})")
        if (left, right) in merge_ids:
            raise ValueError(f"merge {index} ({left}, {right}) appears twice")
        token_bytes[merged_id] = token_bytes[left] + token_bytes[right]
        merge_ids[(left, right)] = merged_id
    return Tokenizer(token_bytes, pattern, special_tokens, merges=merge_ids)


def load(path):
    """Read a tokenizer written by `Tokenizer.save`."""
    pattern, special_tokens, merges = read_model_file(path)
    try:
        return from_merges(merges, pattern, special_tokens)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
