"""From text to batches."""
import numpy as np
import pytest

from gpt.data import (default_corpus, encode_corpus, get_batch, make_tokenizer, read_text,
                      split_ids)
from gpt.tokenizers import CharTokenizer, load_tokenizer, save_tokenizer


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("héllo".encode() + b"\xff rest")
    with pytest.raises(ValueError, match=r"0xff at offset 6"):
        read_text(path)


def test_default_corpus_is_python_help_text():
    text = default_corpus()
    assert len(text) > 300_000 and "for" in text and "def" in text


def test_batches_are_windows_with_targets_shifted_by_one():
    ids = np.arange(100, dtype=np.uint16)
    x, y = get_batch(ids, block_size=8, batch_size=5, generator=np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == np.int64
    assert np.array_equal(y[:, :-1], x[:, 1:])
    assert np.array_equal(y[:, -1], x[:, -1] + 1)         # consecutive ids: the next one
    assert np.array_equal(np.diff(x, axis=1), np.ones((5, 7)))


def test_batches_reach_the_last_token_and_are_seeded():
    ids = np.arange(10, dtype=np.uint16)
    x, y = get_batch(ids, block_size=9, batch_size=4, generator=np.random.default_rng(0))
    assert np.all(y[:, -1] == 9)                           # the only window there is
    a = get_batch(np.arange(1000), 16, 4, np.random.default_rng(3))
    b = get_batch(np.arange(1000), 16, 4, np.random.default_rng(3))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_too_short_a_corpus_names_both_lengths():
    with pytest.raises(ValueError, match=r"5 tokens.*block_size \+ 1 = 9"):
        get_batch(np.arange(5), block_size=8, batch_size=2, generator=np.random.default_rng(0))


def test_split_is_contiguous_ninety_ten():
    train, val = split_ids(np.arange(1000))
    assert len(train) == 900 and train[-1] == 899 and val[0] == 900


def test_ids_are_compact():
    tokenizer = CharTokenizer.from_text("hello")
    ids = encode_corpus(tokenizer, "hello hello".replace(" ", ""))
    assert ids.dtype == np.uint16 and tokenizer.decode(ids.tolist()) == "hellohello"


@pytest.mark.parametrize("char", [True, False])
def test_tokenizers_round_trip_through_a_checkpoint_directory(tmp_path, char):
    text = "To be, or not to be: that is the question. Über-naïve 🙂\n" * 30
    tokenizer = make_tokenizer(text, char_level=char, vocab_size=280)
    save_tokenizer(tokenizer, tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.encode(text) == tokenizer.encode(text)
    assert loaded.decode(loaded.encode(text)) == text
    if not char:
        assert loaded.special_tokens == {"<|endoftext|>": 279}
        assert (tmp_path / "vocab.json").is_file() and (tmp_path / "merges.txt").is_file()


def test_char_tokenizer_errors():
    tokenizer = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="not in this model's vocabulary"):
        tokenizer.encode("abd")
    with pytest.raises(ValueError, match="token id 7 .* size 3"):
        tokenizer.decode([7])


@pytest.mark.parametrize("char", [True, False])
def test_every_tokenizer_encodes_plain_text_with_encode_ordinary(char):
    text = "ham<|endoftext|>spam and more plain text, repeated. " * 20
    tokenizer = make_tokenizer(text, char_level=char, vocab_size=280)
    ids = tokenizer.encode_ordinary(text)
    assert tokenizer.decode(ids) == text
    # the special token's text is ordinary text here: it does not become the special id
    assert tokenizer.special_tokens.get("<|endoftext|>") not in ids
    if char:
        assert ids == tokenizer.encode(text)
        with pytest.raises(ValueError, match="not in this model's vocabulary"):
            tokenizer.encode_ordinary("hamz")


def test_config_json_token_ids_come_from_the_tokenizer():
    from gpt.tokenizers import token_ids_config
    assert token_ids_config(CharTokenizer.from_text("abc")) == {}
    tokenizer = make_tokenizer("some text to train on " * 20, vocab_size=270)
    assert token_ids_config(tokenizer) == {"bos_token_id": 269, "eos_token_id": 269}


DOCUMENTS = ["The first document, about cats.", "A second one: dogs!", "Third, and last."]


@pytest.mark.parametrize("char", [True, False])
def test_end_of_text_in_a_corpus_separates_documents(char):
    text = "<|endoftext|>".join(DOCUMENTS * 10)
    tokenizer = make_tokenizer(text, char_level=char, vocab_size=300)
    ids = encode_corpus(tokenizer, text).tolist()
    assert tokenizer.decode(ids) == text
    end_of_text = tokenizer.special_tokens.get("<|endoftext|>")
    if char:        # a character vocabulary has no special tokens: the string is characters
        assert end_of_text is None and len(ids) == len(text)
        return
    assert ids.count(end_of_text) == text.count("<|endoftext|>") == 29
    documents, current = [], []
    for token_id in ids + [end_of_text]:
        if token_id == end_of_text:
            documents.append(tokenizer.decode(current))
            current = []
        else:
            current.append(token_id)
    assert documents == DOCUMENTS * 10
    # BPE merged nothing across or into the separator
    for merged_id in tokenizer.merges.values():
        assert not {b"<|", b"|>", b"endoftext"} & {tokenizer.token_bytes(merged_id)[i:i + n]
                                                   for n in (2, 9) for i in range(8)}


def test_other_special_strings_in_a_corpus_are_ordinary_text():
    tokenizer = make_tokenizer("plain text " * 30, vocab_size=270)
    ids = encode_corpus(tokenizer, "a<|fim|>b<|endoftext|>").tolist()
    assert tokenizer.decode(ids) == "a<|fim|>b<|endoftext|>"
    assert ids[-1] == tokenizer.special_tokens["<|endoftext|>"]


def test_a_vocabulary_larger_than_the_text_allows_is_a_note_in_the_log():
    notes = []
    tokenizer = make_tokenizer("abcabc xyz", vocab_size=5000, log=notes.append)
    assert tokenizer.vocab_size == 256 + len(tokenizer.merges) + 1
    assert notes == [f"note: training stopped after {len(tokenizer.merges)} merges, at "
                     f"vocabulary size {tokenizer.vocab_size} instead of 5000: no pair of tokens "
                     f"occurs more than once in the text"]
    notes.clear()
    make_tokenizer("abcabc xyz", vocab_size=258, log=notes.append)
    assert notes == []


def test_a_checkpoint_directory_with_tokenizer_json(shared_data, tmp_path):
    tokenizer = load_tokenizer(shared_data / "llama-tiny")
    assert tokenizer.special_tokens["<|begin_of_text|>"] == 510
    save_tokenizer(tokenizer, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json",
                                                          "tokenizer_config.json"]
    again = load_tokenizer(tmp_path)
    assert again.encode("To be, or not") == tokenizer.encode("To be, or not")
    assert again.input_template.before == (510,)
