"""Training: hand-computed merges, the counting and tie-break rules, errors, and the fast
trainer against the textbook one."""
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.naive import merge_pair
from bpe.patterns import split_into_chunks


def train_quietly(trainer, *args, **kwargs):
    """Train with the "stopped early" warning silenced (random texts often trigger it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return trainer(*args, **kwargs)


# ---- hand-computed cases ----

def test_wikipedia_example():
    # aaabdaaabac: (a,a) occurs 4 times -> 256. Then "Z a b d Z a b a c": (256,97) and (97,98)
    # both occur twice; the tie goes to the smaller pair (97,98) -> 257. Then (256,257) -> 258.
    for trainer in (bpe.train, bpe.train_naive):
        tokenizer = trainer("aaabdaaabac", 259, pattern=None)
        assert list(tokenizer.merges.items()) == [((97, 97), 256), ((97, 98), 257),
                                                  ((256, 257), 258)]
        assert tokenizer.token_bytes(258) == b"aaab"
        assert tokenizer.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
        assert tokenizer.vocab_size == 259


def test_overlapping_pairs_are_all_counted():
    # In "aaaaa" the pair (a, a) occurs 4 times (overlapping), in "bcbcbc" (b, c) 3 times. A
    # trainer counting non-overlapping occurrences (2 for "aaaaa") would pick (b, c).
    for trainer in (bpe.train, bpe.train_naive):
        tokenizer = trainer("aaaaa bcbcbc", 257, pattern=None)
        assert list(tokenizer.merges) == [(97, 97)]


def test_runs_merge_left_to_right():
    # "aaaaaaaa" -> 4 x (256) -> 2 x (257); then (257, 257) occurs once: stop.
    for trainer in (bpe.train, bpe.train_naive):
        with pytest.warns(UserWarning, match="no pair of tokens occurs more than once"):
            tokenizer = trainer("aaaaaaaa", 300, pattern=None)
        assert list(tokenizer.merges) == [(97, 97), (256, 256)]
        assert tokenizer.encode("aaaaaaaa") == [257, 257]
        assert tokenizer.encode("aaaaaaaaa") == [257, 257, 97]


def test_ties_go_to_the_smallest_pair_of_ids():
    # "baba|abab": (98, 97) and (97, 98) both occur 3 times; (97, 98) is smaller.
    for trainer in (bpe.train, bpe.train_naive):
        tokenizer = trainer("baba|abab", 257, pattern=None)
        assert list(tokenizer.merges) == [(97, 98)]


def test_merges_never_cross_chunk_boundaries():
    # GPT-2's pattern splits "ab.ab.ab." into "ab", ".", "ab", ...: after (a, b) no pair
    # repeats. Without pre-splitting, "ab" + "." occurs three times and becomes a token.
    with pytest.warns(UserWarning, match="after 1 merges"):
        tokenizer = bpe.train("ab.ab.ab.", 258, pattern=bpe.GPT2_PATTERN)
    assert list(tokenizer.merges) == [(97, 98)]
    without_pattern = bpe.train("ab.ab.ab.", 258, pattern=None)
    assert list(without_pattern.merges) == [(97, 98), (256, 46)]


def test_special_tokens_get_the_last_ids_and_never_take_part_in_merges():
    text = "hello<|endoftext|>hello<|endoftext|>hello"
    tokenizer = bpe.train(text, 261, special_tokens=["<|endoftext|>"])
    assert tokenizer.special_tokens == {"<|endoftext|>": 260}
    assert len(tokenizer.merges) == 4  # "hello" is one token after 4 merges
    for merged_id in tokenizer.merges.values():
        assert b"<" not in tokenizer.token_bytes(merged_id)
    ids = tokenizer.encode(text, allowed_special="all")
    assert ids == [259, 260, 259, 260, 259]
    assert tokenizer.decode(ids) == text


def test_special_token_ids_follow_the_merges_when_training_stops_early():
    with pytest.warns(UserWarning):
        tokenizer = bpe.train("abab", 300, special_tokens=["<|a|>", "<|b|>"])
    assert len(tokenizer.merges) == 1
    assert tokenizer.special_tokens == {"<|a|>": 257, "<|b|>": 258}
    assert tokenizer.vocab_size == 259


def test_vocab_size_256_means_bytes_only():
    tokenizer = bpe.train("hello hello", 256)
    assert tokenizer.merges == {}
    assert tokenizer.encode("hi") == [104, 105]


# ---- errors and the clean stop ----

def test_empty_text_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        bpe.train("", 300)
    with pytest.raises(ValueError, match="empty"):
        bpe.train_naive("", 300)


def test_text_of_only_special_tokens_is_an_error():
    with pytest.raises(ValueError, match="nothing but special tokens"):
        bpe.train("<|x|><|x|>", 300, special_tokens=["<|x|>"])


def test_vocab_size_below_bytes_plus_special_tokens_is_an_error():
    with pytest.raises(ValueError, match=r"at least 256 .* \+ 2 special tokens = 258"):
        bpe.train("hello", 257, special_tokens=["<|a|>", "<|b|>"])
    with pytest.raises(ValueError, match="at least 256"):
        bpe.train_naive("hello", 100)


def test_bad_argument_types_are_errors():
    with pytest.raises(TypeError, match="str"):
        bpe.train(b"bytes", 300)
    with pytest.raises(TypeError, match="vocab_size"):
        bpe.train("text", 300.0)
    with pytest.raises(TypeError, match="list of strings"):
        bpe.train("text", 300, special_tokens="<|endoftext|>")
    with pytest.raises(ValueError, match="distinct"):
        bpe.train("text", 300, special_tokens=["<|a|>", "<|a|>"])


def test_stops_with_a_warning_when_no_pair_repeats():
    with pytest.warns(UserWarning, match=r"after 0 merges, at vocabulary size 256 instead of 300"):
        tokenizer = bpe.train("abc", 300)
    assert tokenizer.vocab_size == 256
    assert tokenizer.decode(tokenizer.encode("abc")) == "abc"


def test_verbose_prints_progress(capsys):
    bpe.train("the cat the hat the mat " * 5, 266, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("merge 10/10: ")
    assert "merges/s" in lines[-1]


def test_quiet_by_default(capsys):
    bpe.train("the cat the hat the mat " * 5, 266)
    assert capsys.readouterr().out == ""


# ---- the fast trainer agrees with the textbook one ----

few_letters = st.text(alphabet="aab bc\n", max_size=80)
any_text = st.text(max_size=60)
patterns = st.sampled_from([None, bpe.GPT2_PATTERN, bpe.GPT4_PATTERN])


@given(text=st.one_of(few_letters, any_text).filter(bool),
       extra=st.integers(0, 40), pattern=patterns)
def test_fast_and_naive_trainers_give_identical_merges(text, extra, pattern):
    fast = train_quietly(bpe.train, text, 256 + extra, pattern=pattern)
    naive = train_quietly(bpe.train_naive, text, 256 + extra, pattern=pattern)
    assert list(fast.merges.items()) == list(naive.merges.items())


@pytest.mark.parametrize("text", [
    "a" * 2, "a" * 3, "a" * 4, "a" * 7, "a" * 16, "a" * 33,
    "aaab" * 5, "aaaa aaaa aaa aa a", "abababa", "aabaabaab", "aaaabbbbaaaabbbb",
    "\n\n\n\n  \n\n", "😀" * 9,
])
@pytest.mark.parametrize("pattern", [None, bpe.GPT4_PATTERN], ids=["none", "gpt4"])
def test_fast_and_naive_trainers_agree_on_runs(text, pattern):
    fast = train_quietly(bpe.train, text, 280, pattern=pattern)
    naive = train_quietly(bpe.train_naive, text, 280, pattern=pattern)
    assert list(fast.merges.items()) == list(naive.merges.items())
    assert fast.decode(fast.encode(text)) == text


def test_fast_and_naive_trainers_agree_on_shakespeare(shakespeare):
    text = shakespeare[:20_000]
    fast = bpe.train(text, 320)
    naive = bpe.train_naive(text, 320)
    assert len(fast.merges) == 64
    assert list(fast.merges.items()) == list(naive.merges.items())


def test_shakespeare_first_merges_are_common_english_pairs(shakespeare):
    tokenizer = bpe.train(shakespeare[:20_000], 260)
    first = [tokenizer.token_bytes(merged_id) for merged_id in tokenizer.merges.values()]
    assert first[0] in {b" t", b"he", b"e ", b"th"}
    assert all(len(piece) == 2 or piece in {b" th", b"the"} for piece in first)


@given(text=st.one_of(few_letters, any_text).filter(bool), extra=st.integers(0, 40),
       pattern=patterns)
def test_encoding_the_training_text_reproduces_the_training_merges(text, extra, pattern):
    # Training leaves each chunk as the merges, applied in order, make it. Encoding (merging
    # bytes by rank, tiktoken's way) must land on the very same ids.
    tokenizer = train_quietly(bpe.train, text, 256 + extra, pattern=pattern)
    expected = []
    for chunk in split_into_chunks(text, pattern):
        ids = list(chunk.encode("utf-8"))
        for pair, merged_id in tokenizer.merges.items():
            ids = merge_pair(ids, pair, merged_id)
        expected.extend(ids)
    assert tokenizer.encode(text) == expected


def test_surrogates_in_the_training_text_are_taken_as_encoding_takes_them():
    text = "thumbs \ud83d\udc4d\ud83d\udc4d up, lone \ud83d \ud83d halves " * 3
    clean = "thumbs 👍👍 up, lone \ufffd \ufffd halves " * 3
    for trainer in (bpe.train, bpe.train_naive):
        tokenizer = trainer(text, 256 + 12)
        assert tokenizer.merges == trainer(clean, 256 + 12).merges
        assert tokenizer.decode(tokenizer.encode(text)) == clean
