"""A checkpoint's tokenizer: damaged files named, a tokenizer from another model refused."""
import json
import shutil

import pytest

import bpe
from gpt import GPT, GPTConfig
from gpt.tokenizers import CHARS_FILE, CharTokenizer, load_tokenizer, save_tokenizer

CHARS = sorted(set("To be, or not to be\n"))


def char_checkpoint(directory, chars=CHARS, vocab_size=None, **extra_config):
    """A 1-layer GPT with a character vocabulary; vocab_size defaults to the vocabulary's."""
    tokenizer = CharTokenizer(chars)
    config = GPTConfig(vocab_size=vocab_size or tokenizer.vocab_size, block_size=8, n_layer=1,
                       n_head=1, n_embd=4)
    GPT(config, seed=0).save_pretrained(directory, extra_config=extra_config)
    save_tokenizer(tokenizer, directory)
    return directory


def test_a_saved_character_vocabulary_loads_back(tmp_path):
    tokenizer = load_tokenizer(char_checkpoint(tmp_path))
    assert tokenizer.chars == CHARS and tokenizer.decode(tokenizer.encode("to be")) == "to be"


@pytest.mark.parametrize("content, message", [
    ("[]", "is not a character vocabulary file"),
    ('{"format": "tinygpt-chars", "version": 1}', "chars must be a list of characters, got None"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": "abc"}', "chars must be a list"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": []}', "at least one character"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": ["a", "a"]}', "lists a character twice"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": ["ab"]}', "single characters.*'ab'"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": [7]}', "single characters.*7"),
    ('{"format": "tinygpt-chars", "version": 1, "chars": ["\\ud800"]}', "not surrogates"),
    ('{"format": "tinygpt-chars", "version": 2, "chars": ["a"]}', "version 2 of the format"),
    ('{"format": "bpe", "chars": ["a"]}', "is not a character vocabulary file"),
    ('{"chars": ["a",]}', "is not valid JSON: Expecting value at line 1, column 16"),
])
def test_a_damaged_character_vocabulary_is_named(tmp_path, content, message):
    (tmp_path / CHARS_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        CharTokenizer.load(tmp_path / CHARS_FILE)
    assert CHARS_FILE in str(error.value)


def test_a_binary_character_vocabulary_is_named(tmp_path):
    (tmp_path / CHARS_FILE).write_bytes(b"\x00\xff\xfe binary")
    with pytest.raises(ValueError, match=r"tokenizer\.chars\.json is not valid UTF-8 "
                                         r"\(byte 0xff at offset 1\)"):
        CharTokenizer.load(tmp_path / CHARS_FILE)


def test_a_tokenizer_with_more_ids_than_the_model_is_refused_at_load(tmp_path):
    directory = char_checkpoint(tmp_path, vocab_size=5)              # the model knows 5 ids
    with pytest.raises(ValueError, match=rf"the tokenizer has ids up to {len(CHARS) - 1} but "
                                         r"the model's vocabulary \(vocab_size in config\.json\) "
                                         r"has 5; the tokenizer belongs to another model"):
        load_tokenizer(directory)


def test_a_model_with_more_ids_than_its_tokenizer_is_fine(tmp_path):
    # GPT-2's vocabulary is sometimes padded to a round number (nanoGPT's 50304)
    assert load_tokenizer(char_checkpoint(tmp_path, vocab_size=64)).vocab_size == len(CHARS)


@pytest.mark.parametrize("key, ids", [("eos_token_id", 511), ("bos_token_id", 7),
                                      ("eos_token_id", [0, 9])])
def test_end_of_text_ids_that_are_not_the_tokenizers_are_refused(shared_data, tmp_path, key,
                                                                 ids):
    source = shared_data / "gpt2-tiny"
    for name in ("config.json", "model.safetensors", "vocab.json", "merges.txt"):
        shutil.copy(source / name, tmp_path / name)
    assert load_tokenizer(tmp_path).special_tokens == {"<|endoftext|>": 0}   # eos, bos: 0
    config = json.loads((tmp_path / "config.json").read_text())
    config[key] = ids
    (tmp_path / "config.json").write_text(json.dumps(config))
    stray = ids[-1] if isinstance(ids, list) else ids
    with pytest.raises(ValueError, match=rf"config\.json says {key} is {stray}, which is not a "
                                         r"special token of the tokenizer there \(it has "
                                         r"\{'<\|endoftext\|>': 0\}\); the tokenizer belongs"):
        load_tokenizer(tmp_path)


def test_a_character_vocabulary_in_a_directory_whose_config_names_an_eos_is_refused(tmp_path):
    directory = char_checkpoint(tmp_path, eos_token_id=3)
    with pytest.raises(ValueError, match=r"eos_token_id is 3, which is not a special token of "
                                         r"the tokenizer there \(it has none\)"):
        load_tokenizer(directory)


def test_a_bpe_tokenizer_from_a_larger_model_is_refused(tmp_path):
    text = "to be or not to be, that is the question " * 20
    tokenizer = bpe.train(text, 270, pattern=bpe.GPT2_PATTERN, special_tokens=["<|endoftext|>"])
    GPT(GPTConfig(vocab_size=260, block_size=8, n_layer=1, n_head=1, n_embd=4)
        ).save_pretrained(tmp_path)
    save_tokenizer(tokenizer, tmp_path)
    with pytest.raises(ValueError, match="ids up to 269 but .* has 260; the tokenizer belongs"):
        load_tokenizer(tmp_path)


def test_a_sample_starts_from_end_of_text_else_a_newline_else_the_first_id(shared_data):
    from gpt.tokenizers import start_ids
    assert start_ids(load_tokenizer(shared_data / "gpt2-tiny")) == [0]        # <|endoftext|>
    assert start_ids(CharTokenizer(["\n", "a", "b"])) == [0]
    assert start_ids(CharTokenizer(["a", "b", "\n"])) == [2]
    assert start_ids(CharTokenizer(["a", "b"])) == [0]        # text without a newline
