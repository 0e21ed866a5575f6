"""Files: our own save/load format, and the readers' errors for tiktoken and GPT-2 files."""
import json
import os

import pytest

import bpe
from bpe.readable import render_merge, render_token

TEXT = "the theme of the thesis: 'the' then 'these'\n" * 3 + "日本語 日本語 👍👍\r\n"


@pytest.fixture(scope="module")
def trained():
    return bpe.train(TEXT, 256 + 20 + 2, special_tokens=["<|endoftext|>", "<|pad|>"])


# ---- save / load ----

@pytest.mark.parametrize("pattern", [bpe.GPT4_PATTERN, bpe.GPT2_PATTERN, None, r"\w+|\W"],
                         ids=["gpt4", "gpt2", "none", "custom"])
def test_save_load_round_trip(tmp_path, pattern):
    original = bpe.train(TEXT, 256 + 20 + 1, pattern=pattern, special_tokens=["<|endoftext|>"])
    path = tmp_path / "tok.bpe"
    original.save(path)
    loaded = bpe.load(path)
    assert loaded.pattern == pattern
    assert list(loaded.merges.items()) == list(original.merges.items())
    assert loaded.special_tokens == original.special_tokens
    sample = TEXT + " unseen words, 12345 <|endoftext|>"
    assert (loaded.encode(sample, allowed_special="all")
            == original.encode(sample, allowed_special="all"))


def test_saved_file_is_human_readable(trained, tmp_path):
    path = tmp_path / "tok.bpe"
    trained.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "bpe tokenizer v1"
    assert lines[1] == "pattern: " + json.dumps(bpe.GPT4_PATTERN, ensure_ascii=False)
    assert lines[2] == 'special: "<|endoftext|>" 276'
    assert lines[3] == 'special: "<|pad|>" 277'
    assert lines[4] == "merges: 20"
    (left, right), merged_id = next(iter(trained.merges.items()))
    assert lines[5].startswith(f"{left} {right}\t")
    assert lines[5].endswith(" -> " + render_token(trained.token_bytes(merged_id)))
    assert len(lines) == 5 + 20


def test_save_is_atomic_and_leaves_no_temporary_files(trained, tmp_path, monkeypatch):
    path = tmp_path / "tok.bpe"
    trained.save(path)
    before = path.read_bytes()

    def interrupted(source, destination):
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(OSError, match="disk unplugged"):
        bpe.train("something else entirely, else else", 258).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tok.bpe"]


def test_save_overwrites_an_existing_file(trained, tmp_path):
    path = tmp_path / "tok.bpe"
    path.write_text("old")
    trained.save(path)
    assert bpe.load(path).merges == trained.merges


def test_load_rejects_other_files(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(ValueError, match="not a bpe tokenizer file"):
        bpe.load(other)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\xff\x00")
    with pytest.raises(ValueError, match="not a bpe tokenizer file"):
        bpe.load(binary)
    with pytest.raises(FileNotFoundError):
        bpe.load(tmp_path / "missing.bpe")


@pytest.mark.parametrize("damage, message", [
    (lambda lines: lines[:3], "line 4: expected a line starting with 'merges: '"),
    (lambda lines: lines[:-1], "line 25: expected a merge line"),
    (lambda lines: lines + ["1 2"], "line 26: unexpected text after the last merge"),
    (lambda lines: [lines[0], "pattern: [1]"] + lines[2:], "line 2: the pattern must be"),
    (lambda lines: [lines[0], "pattern: \"oops"] + lines[2:], "line 2: not valid JSON"),
    (lambda lines: lines[:3] + ['special: "<|x|>" -5'] + lines[4:], "line 4: a special token"),
    (lambda lines: lines[:5] + ["97 x"] + lines[6:], "line 6: expected a merge line"),
    (lambda lines: lines[:5] + ["999 97"] + lines[6:], "merge 0 .* uses an id"),
])
def test_load_names_the_damaged_line(trained, tmp_path, damage, message):
    path = tmp_path / "tok.bpe"
    trained.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    path.write_text("\n".join(damage(lines)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        bpe.load(path)


def test_from_merges_rejects_a_repeated_merge():
    with pytest.raises(ValueError, match="twice"):
        bpe.from_merges([(97, 98), (97, 98)], None)


# ---- showing tokens ----

def test_render_token():
    assert render_token(b"the") == '"the"'
    assert render_token(b" \n\t\"\\") == '" \\n\\t\\"\\\\"'
    assert render_token("é".encode()[:1]) == '"\\xc3"'
    assert render_token(b"a\xff\xfeb") == '"a\\xff\\xfeb"'
    assert render_token("日本".encode()) == '"日本"'
    assert render_merge(b"t", b"he") == '"t" + "he" -> "the"'


# ---- other formats' readers ----

def test_from_tiktoken_names_a_bad_line(tmp_path):
    path = tmp_path / "bad.tiktoken"
    path.write_text("YQ== 0\nnot-base64! 1\n")
    with pytest.raises(ValueError, match="line 2"):
        bpe.from_tiktoken(path, bpe.GPT4_PATTERN, {})


def test_from_tiktoken_needs_every_byte(tmp_path):
    path = tmp_path / "small.tiktoken"
    path.write_text("YQ== 0\n")
    with pytest.raises(ValueError, match="no token for byte 0x00"):
        bpe.from_tiktoken(path, bpe.GPT4_PATTERN, {})


def test_from_pretrained_needs_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither tokenizer.json, nor vocab.json"):
        bpe.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such directory"):
        bpe.from_pretrained(tmp_path / "missing")


def test_from_pretrained_names_a_merge_missing_from_the_vocabulary(tmp_path):
    byte_chars = bpe.bytes_to_unicode()
    vocab = {char: i for i, char in enumerate(byte_chars.values())}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nh e\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: token 'he' is not in"):
        bpe.from_pretrained(tmp_path)


def test_bytes_to_unicode_is_gpt2s_table():
    table = bpe.bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert table[ord("A")] == "A"
    assert table[ord(" ")] == "Ġ"
    assert table[ord("\n")] == "Ċ"
    assert all(char.isprintable() and not char.isspace() for char in table.values())


def test_from_pretrained_names_a_vocabulary_that_is_not_json(tmp_path):
    (tmp_path / "vocab.json").write_bytes(b"\xff not json")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(ValueError, match="vocab.json is not a JSON vocabulary"):
        bpe.from_pretrained(tmp_path)
    (tmp_path / "vocab.json").write_text('{"a": "zero"}')
    with pytest.raises(ValueError, match="should map token strings to ids"):
        bpe.from_pretrained(tmp_path)


def test_load_names_a_pattern_that_is_not_a_regex(trained, tmp_path):
    path = tmp_path / "tok.bpe"
    trained.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[1] = 'pattern: "(unclosed|\\\\p{L}+"'
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"tok\.bpe: the split pattern is not a valid regex "
                                         r"\(missing \) at position 16\)"):
        bpe.load(path)


def test_an_absurd_token_id_is_refused(tmp_path):
    path = tmp_path / "huge.bpe"
    path.write_text('bpe tokenizer v1\npattern: null\nspecial: "x" 99999999999999\nmerges: 0\n')
    with pytest.raises(ValueError, match=r"huge.bpe: token id 99999999999999 is not a whole "
                                         r"number from 0 to 2147483647"):
        bpe.load(path)
