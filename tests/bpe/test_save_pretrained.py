"""Writing GPT-2 files (vocab.json + merges.txt) and reading them back."""
import json

import pytest

import bpe

TEXT = ("The quick brown fox jumps over the lazy dog. " * 20
        + "Ünïcödé, emoji 🙂 and CJK 漢字 too.\n") * 5


def test_trained_gpt2_pattern_tokenizer_round_trips_through_gpt2_files(tmp_path):
    trained = bpe.train(TEXT, 320, pattern=bpe.GPT2_PATTERN, special_tokens=["<|endoftext|>"])
    bpe.save_pretrained(trained, tmp_path)
    loaded = bpe.from_pretrained(tmp_path)
    sample = TEXT[:500] + " never seen wörds <|endoftext|>"
    assert loaded.encode(sample, allowed_special="all") == trained.encode(sample, allowed_special="all")
    assert loaded.special_tokens == trained.special_tokens == {"<|endoftext|>": 319}
    assert loaded.decode(trained.encode(sample, allowed_special="all")) == sample
    merges_txt = (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges_txt[0] == "#version: 0.2" and len(merges_txt) == 1 + 320 - 256 - 1


def test_gpt2_tiny_files_are_reproduced(shared_data, tmp_path):
    source = shared_data / "gpt2-tiny"
    tokenizer = bpe.from_pretrained(source)
    bpe.save_pretrained(tokenizer, tmp_path)
    ours = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    theirs = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
    assert ours == theirs
    our_merges = (tmp_path / "merges.txt").read_text(encoding="utf-8").split()
    their_merges = (source / "merges.txt").read_text(encoding="utf-8").split()
    assert our_merges[2:] == their_merges[2:]          # after "#version: 0.2"


def test_what_gpt2_files_cannot_express_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pattern"):
        bpe.save_pretrained(bpe.train(TEXT, 300), tmp_path)     # GPT-4 pattern
    assert not (tmp_path / "vocab.json").exists()
