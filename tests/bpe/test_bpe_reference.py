"""Exactly what tiktoken (cl100k_base) and Hugging Face (gpt2-tiny) give, from ../shared/data."""
import shutil

import pytest

import bpe


def test_gpt4_pattern_is_cl100k_pattern(cl100k_cases):
    assert bpe.GPT4_PATTERN == cl100k_cases["pattern"]


def test_cl100k_every_case(cl100k, cl100k_cases):
    assert len(cl100k_cases["cases"]) >= 10
    for case in cl100k_cases["cases"]:
        ids = cl100k.encode_ordinary(case["text"])
        assert ids == case["ids"], case["text"]
        assert cl100k.decode(ids) == case["text"]


def test_cl100k_special_case_both_ways(cl100k, cl100k_cases):
    case = cl100k_cases["special_case"]
    assert cl100k.encode(case["text"], allowed_special="all") == case["ids_allowed_all"]
    assert cl100k.encode(case["text"], disallowed_special=()) == case["ids_as_ordinary_text"]
    assert cl100k.encode_ordinary(case["text"]) == case["ids_as_ordinary_text"]
    with pytest.raises(ValueError, match=r"<\|endoftext\|>"):
        cl100k.encode(case["text"])
    assert cl100k.decode(case["ids_allowed_all"]) == case["text"]


def test_cl100k_special_ids_come_from_the_caller(cl100k, cl100k_cases):
    assert cl100k.special_tokens == cl100k_cases["special_tokens"]
    assert cl100k.vocab_size == 100_277  # tiktoken's n_vocab: the largest id + 1
    with pytest.raises(ValueError, match=r"unknown token id 100256 \(vocabulary size 100277\)"):
        cl100k.decode([100256])  # the gap between the ranks and the special tokens


def test_cl100k_long_runs(cl100k):
    a_run = cl100k.encode("a" * 100_000)
    assert cl100k.decode(a_run) == "a" * 100_000
    assert len(set(a_run)) == 1 and len(a_run) == 12_500  # the 8-"a" token, again and again
    thumbs = cl100k.encode("👍" * 10_000)
    assert cl100k.decode(thumbs) == "👍" * 10_000
    assert thumbs == cl100k.encode("👍") * 10_000 == [9468, 239, 235] * 10_000


def test_gpt2_tiny_reference_ids(gpt2_tiny, gpt2_reference):
    for key in ("prompt", "text_sample"):
        ids = gpt2_tiny.encode(gpt2_reference[key])
        assert ids == gpt2_reference[key + "_ids"], key
        assert gpt2_tiny.decode(ids) == gpt2_reference[key]


def test_gpt2_tiny_special_token_id_is_read_from_the_vocabulary(gpt2_tiny):
    assert gpt2_tiny.special_tokens == {"<|endoftext|>": 0}
    assert gpt2_tiny.encode("<|endoftext|>", allowed_special="all") == [0]
    assert gpt2_tiny.vocab_size == 512
    assert len(gpt2_tiny.merges) == 255


def test_gpt2_tiny_byte_tokens_follow_the_vocabulary_not_byte_values(gpt2_tiny):
    # in this vocabulary "!" (byte 33) is id 1, and the space byte is "Ġ", id 220
    assert gpt2_tiny.encode("!") == [1]
    assert gpt2_tiny.token_bytes(1) == b"!"
    assert gpt2_tiny.decode([gpt2_tiny.encode(" ")[0]]) == " "


def test_gpt2_openai_file_names(gpt2_tiny_dir, gpt2_tiny, gpt2_reference, tmp_path):
    shutil.copy(gpt2_tiny_dir / "vocab.json", tmp_path / "encoder.json")
    shutil.copy(gpt2_tiny_dir / "merges.txt", tmp_path / "vocab.bpe")
    openai_named = bpe.from_pretrained(tmp_path)
    assert openai_named.encode(gpt2_reference["text_sample"]) == gpt2_reference["text_sample_ids"]
    assert openai_named.merges == gpt2_tiny.merges


def test_gpt2_tokenizer_cannot_be_saved_in_our_format(gpt2_tiny, tmp_path):
    with pytest.raises(ValueError, match="write it with bpe.save_pretrained"):
        gpt2_tiny.save(tmp_path / "gpt2.bpe")
    assert not list(tmp_path.iterdir())


# ---- surrogate code points, taken as tiktoken takes them ----

def test_cl100k_surrogates_as_tiktoken_takes_them(cl100k):
    # ids from tiktoken 0.14 with cl100k_base (issue 13): a valid pair is its code point,
    # a lone surrogate is U+FFFD
    assert cl100k.encode("\ud83d\udc4d") == [9468, 239, 235] == cl100k.encode("👍")
    assert cl100k.encode("\ud83d") == [5809] == cl100k.encode("\ufffd")
    assert cl100k.encode_ordinary("\ud83d\udc4d") == [9468, 239, 235]
    assert cl100k.encode_ordinary("\udc4d") == [5809]


@pytest.mark.parametrize("text, same_as", [
    ("ok \ud83d\udc4d ok", "ok 👍 ok"),
    ("\udc4d\ud83d", "\ufffd\ufffd"),                   # the wrong order is two lone halves
    ("caf\udce9", "caf\ufffd"),                         # os.fsdecode's surrogateescape of b"\xe9"
    ("\ud83d<|endoftext|>\udc4d", "\ufffd<|endoftext|>\ufffd"),   # a special token between
])
def test_surrogates_in_longer_text(cl100k, text, same_as):
    assert cl100k.encode(text, allowed_special="all") == cl100k.encode(same_as,
                                                                       allowed_special="all")
    assert cl100k.encode_ordinary(text) == cl100k.encode_ordinary(same_as)
