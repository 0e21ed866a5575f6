"""Encoding and decoding: special tokens with tiktoken's rules, errors, round trips, long
inputs."""
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe

ROOT = Path(__file__).resolve().parents[2]
SPECIALS = ["<|endoftext|>", "<|fim|>", "<|fim|>long"]
CORPUS = ("The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.\n"
          "Ünïcödé, 日本語, emoji 👍🏽 and   spaces\r\n\ttabs.\n") * 4


@pytest.fixture(scope="module")
def tokenizer():
    return bpe.train(CORPUS, 256 + 60 + len(SPECIALS), special_tokens=SPECIALS)


@pytest.fixture(scope="module")
def tokenizers(tokenizer):
    """One trained tokenizer per pre-splitting choice."""
    return [tokenizer, bpe.train(CORPUS, 300, pattern=bpe.GPT2_PATTERN),
            bpe.train(CORPUS, 300, pattern=None)]


# ---- special tokens (tiktoken's rules) ----

def test_special_tokens_in_text_are_an_error_by_default(tokenizer):
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'.*disallowed"):
        tokenizer.encode("hello <|endoftext|>")


def test_allowed_special_all_turns_them_into_their_ids(tokenizer):
    ids = tokenizer.encode("a<|endoftext|>b<|fim|>c", allowed_special="all")
    eot, fim = tokenizer.special_tokens["<|endoftext|>"], tokenizer.special_tokens["<|fim|>"]
    assert ids == [97, eot, 98, fim, 99]
    assert tokenizer.decode(ids) == "a<|endoftext|>b<|fim|>c"


def test_allowing_some_leaves_the_others_disallowed(tokenizer):
    eot = tokenizer.special_tokens["<|endoftext|>"]
    assert tokenizer.encode("x<|endoftext|>", allowed_special={"<|endoftext|>"}) == [120, eot]
    with pytest.raises(ValueError, match=r"<\|fim\|>"):
        tokenizer.encode("<|endoftext|><|fim|>", allowed_special={"<|endoftext|>"})


def test_neither_allowed_nor_disallowed_is_ordinary_text(tokenizer):
    text = "<|endoftext|> and <|fim|>"
    ids = tokenizer.encode(text, allowed_special={"<|fim|>"}, disallowed_special=())
    assert ids[-1] == tokenizer.special_tokens["<|fim|>"]
    assert tokenizer.special_tokens["<|endoftext|>"] not in ids
    assert ids[:-1] == tokenizer.encode_ordinary("<|endoftext|> and ")
    assert tokenizer.encode(text, disallowed_special=()) == tokenizer.encode_ordinary(text)


def test_encode_ordinary_ignores_special_tokens(tokenizer):
    ids = tokenizer.encode_ordinary("<|endoftext|>")
    assert not set(ids) & set(tokenizer.special_tokens.values())
    assert tokenizer.decode(ids) == "<|endoftext|>"


def test_disallowed_strings_need_not_be_special_tokens(tokenizer):
    # tiktoken checks the text for whatever strings the caller disallows
    with pytest.raises(ValueError, match="'fox'"):
        tokenizer.encode("the fox", disallowed_special={"fox"})


def test_unknown_allowed_strings_are_ignored(tokenizer):
    assert tokenizer.encode("abc", allowed_special={"b"}) == tokenizer.encode_ordinary("abc")


def test_overlapping_special_tokens_resolve_longest_first(tokenizer):
    ids = tokenizer.encode("<|fim|>long<|fim|>x", allowed_special="all")
    assert ids == [tokenizer.special_tokens["<|fim|>long"], tokenizer.special_tokens["<|fim|>"],
                   120]


# ---- decoding ----

def test_decode_unknown_id_names_the_id_and_the_vocabulary_size(tokenizer):
    size = tokenizer.vocab_size
    for bad in (size, -1, 10**9):
        with pytest.raises(ValueError, match=rf"unknown token id {bad} \(vocabulary size {size}\)"):
            tokenizer.decode([104, bad])
    with pytest.raises(ValueError, match="unknown token id 'x'"):
        tokenizer.decode([104, "x"])


def test_decode_an_id_that_splits_a_character(tokenizer):
    # "é" is two bytes, c3 a9; byte tokens 0xc3 and 0xa9 each hold half of it
    assert tokenizer.decode([0xC3]) == "\ufffd"
    assert tokenizer.decode([0xC3, 0xA9]) == "é"
    with pytest.raises(UnicodeDecodeError):
        tokenizer.decode([0xC3], errors="strict")
    assert tokenizer.decode_bytes([0xC3]) == b"\xc3"


def test_token_bytes_and_vocab_size(tokenizer):
    assert tokenizer.vocab_size == 256 + 60 + len(SPECIALS)
    assert tokenizer.token_bytes(65) == b"A"
    assert tokenizer.token_bytes(tokenizer.special_tokens["<|fim|>"]) == b"<|fim|>"
    for (left, right), merged_id in tokenizer.merges.items():
        assert tokenizer.token_bytes(merged_id) == (tokenizer.token_bytes(left)
                                                   + tokenizer.token_bytes(right))


def test_empty_inputs(tokenizer):
    assert tokenizer.encode("") == []
    assert tokenizer.decode([]) == ""


def test_encoding_is_the_same_with_a_warm_cache(tokenizer):
    text = CORPUS[:200]
    fresh = bpe.train(CORPUS, 256 + 60 + len(SPECIALS), special_tokens=SPECIALS)
    assert fresh.encode(text) == fresh.encode(text) == tokenizer.encode(text)


# ---- round trips ----

# emoji with skin tones and joiners, flags, combining marks, CJK, Hangul, whitespace runs,
# lone "\r", contractions, digit runs, special-token text, NUL
awkward_pieces = list("aé\u0301 \t\n\r") + [
    "  ", "\r\n", "👍🏽", "👨\u200d👩\u200d👧", "🇳🇴", "日本語", "한국어", "'s", "'LL", "123456",
    "<|endoftext|>", "\x00"]
awkward_text = st.lists(st.sampled_from(awkward_pieces), max_size=30).map("".join)


@given(text=st.text() | awkward_text)
def test_round_trip(tokenizers, text):
    for tokenizer in tokenizers:
        assert tokenizer.decode(tokenizer.encode_ordinary(text)) == text
        assert tokenizer.decode(tokenizer.encode(text, allowed_special="all")) == text


def tracked_text_files():
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listing.returncode == 0:
        names = listing.stdout.split()
    else:   # not a git checkout (a student copy): every file outside caches and builds
        skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "runs"}
        names = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    texts = {}
    for name in names:
        path = ROOT / name
        if path.is_file():
            try:
                texts[name] = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue  # a binary file: not text, nothing to round-trip
    return texts


def test_round_trip_every_text_file_in_the_repository(tokenizers):
    texts = tracked_text_files()
    assert "README.md" in texts
    for name, text in texts.items():
        for tokenizer in tokenizers:
            ids = tokenizer.encode(text, disallowed_special=())
            assert tokenizer.decode(ids) == text, name


# ---- long repetitive inputs (no quadratic blow-up) ----

@pytest.mark.parametrize("pattern", [bpe.GPT4_PATTERN, bpe.GPT2_PATTERN, None],
                         ids=["gpt4", "gpt2", "none"])
def test_long_runs_encode_correctly(pattern):
    # merges: a + a, aa + aa; then the four bytes of 👍 (f0 9f 91 8d), and 👍 + 👍
    merges = [(97, 97), (256, 256), (0xF0, 0x9F), (258, 0x91), (259, 0x8D), (260, 260)]
    tokenizer = bpe.from_merges(merges, pattern)
    a_run = tokenizer.encode("a" * 100_000)
    assert a_run == [257] * 25_000
    assert tokenizer.decode(a_run) == "a" * 100_000
    thumbs = tokenizer.encode("👍" * 10_000)
    assert thumbs == [261] * 5_000
    assert tokenizer.decode(thumbs) == "👍" * 10_000
    odd = tokenizer.encode("a" * 99_999)
    assert odd == [257] * 24_999 + [256, 97]


def test_decode_accepts_any_iterable_of_ids(tokenizer):
    assert tokenizer.decode(iter([104, 105])) == "hi"
    assert tokenizer.decode((104, 105)) == "hi"
    with pytest.raises(ValueError, match="unknown token id 99999"):
        tokenizer.decode(token_id for token_id in [104, 99999])


def test_constructor_rejects_inconsistent_tables():
    byte_tokens = {b: bytes([b]) for b in range(256)}
    with pytest.raises(ValueError, match="share an id"):
        bpe.Tokenizer(byte_tokens, None, {"<|a|>": 300, "<|b|>": 300})
    with pytest.raises(ValueError, match="also the id of the ordinary token b'a'"):
        bpe.Tokenizer(byte_tokens, None, {"<|a|>": 97})
    with pytest.raises(ValueError, match="no token id"):
        bpe.Tokenizer(byte_tokens, None, ranks={b"ab": 0})


def test_text_that_is_not_a_str_is_named(tokenizer):
    for encode in (tokenizer.encode, tokenizer.encode_ordinary):
        with pytest.raises(TypeError, match="text must be a str, not bytes"):
            encode(b"hello")
