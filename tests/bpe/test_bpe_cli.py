"""python -m bpe train | encode | decode | show, run as a user would, in a subprocess."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "the cat sat on the mat. the cat ate the rat. the end.\n" * 20


def run_bpe(*args, stdin=b""):
    """Run `python -m bpe ...` from the repository root; return (exit code, stdout, stderr)."""
    result = subprocess.run([sys.executable, "-m", "bpe", *map(str, args)], cwd=ROOT,
                            input=stdin, capture_output=True, timeout=60)
    return result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = folder / "corpus.txt"
    data.write_text(CORPUS, encoding="utf-8")
    out = folder / "cats.bpe"
    code, stdout, stderr = run_bpe("train", "--data", data, "--vocab-size", 270, "--out", out,
                                   "--pattern", "gpt2", "--special", "<|endoftext|>")
    assert code == 0, stderr
    assert stdout.startswith("learned 13 merges in ")
    assert stdout.rstrip().endswith(f"(vocabulary size 270); wrote {out}")
    return out


def test_encode_then_decode(model):
    code, ids_text, stderr = run_bpe("encode", "--model", model, stdin="the cat\n".encode())
    assert code == 0, stderr
    ids = [int(word) for word in ids_text.split()]
    assert len(ids) < len("the cat\n")
    code, text, stderr = run_bpe("decode", "--model", model, stdin=ids_text.encode())
    assert code == 0, stderr
    assert text == "the cat\n"


def test_decode_accepts_a_python_list(model):
    code, text, _ = run_bpe("decode", "--model", model, stdin=b"[104, 105]")
    assert (code, text) == (0, "hi")


def test_special_tokens_on_the_command_line(model):
    code, _, stderr = run_bpe("encode", "--model", model, stdin=b"a<|endoftext|>")
    assert code == 1
    assert stderr.startswith("error: ") and "<|endoftext|>" in stderr
    code, stdout, _ = run_bpe("encode", "--model", model, "--allow-special",
                              stdin=b"a<|endoftext|>")
    assert (code, stdout) == (0, "97 269\n")


def test_show_prints_readable_merges(model):
    code, stdout, stderr = run_bpe("show", "--model", model)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("# 13 merges, vocabulary size 270")
    assert lines[1].startswith("256: ") and " + " in lines[1] and " -> " in lines[1]
    assert '258: "t" + "he" -> "the"' in lines
    assert '259: " " + "the" -> " the"' in lines
    assert lines[-1] == '269: "<|endoftext|>" (special token)'


def test_show_reads_a_gpt2_directory(gpt2_tiny_dir):
    code, stdout, _ = run_bpe("show", "--model", gpt2_tiny_dir)
    assert code == 0
    assert stdout.splitlines()[1] == '257: " " + "t" -> " t"'


def one_line_error(code, stderr):
    """A user mistake: exit status 1 and exactly one line starting with "error: "."""
    assert code == 1
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
    return stderr


def test_missing_corpus(tmp_path):
    code, _, stderr = run_bpe("train", "--data", tmp_path / "nope.txt", "--vocab-size", 300,
                              "--out", tmp_path / "out.bpe")
    assert "No such file or directory" in one_line_error(code, stderr)
    assert not (tmp_path / "out.bpe").exists()


def test_corpus_that_is_not_utf8_names_the_offset(tmp_path):
    data = tmp_path / "latin1.txt"
    data.write_bytes("caf".encode() + b"\xe9 au lait")
    code, _, stderr = run_bpe("train", "--data", data, "--vocab-size", 300,
                              "--out", tmp_path / "out.bpe")
    assert "byte 0xe9 at offset 3" in one_line_error(code, stderr)


def test_vocab_size_too_small(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text(CORPUS)
    code, _, stderr = run_bpe("train", "--data", data, "--vocab-size", 100,
                              "--out", tmp_path / "out.bpe")
    assert "at least 256" in one_line_error(code, stderr)


def test_training_that_stops_early_says_so(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text("abc")
    code, stdout, stderr = run_bpe("train", "--data", data, "--vocab-size", 300,
                                   "--out", tmp_path / "out.bpe")
    assert code == 0
    assert stderr.startswith("note: training stopped after 0 merges")
    assert "wrote" in stdout


def test_unknown_or_damaged_model_file(tmp_path):
    code, _, stderr = run_bpe("show", "--model", ROOT / "README.md")
    assert "is not a bpe tokenizer file" in one_line_error(code, stderr)
    code, _, stderr = run_bpe("encode", "--model", tmp_path / "missing.bpe", stdin=b"x")
    assert "No such file or directory" in one_line_error(code, stderr)
    damaged = tmp_path / "damaged.bpe"
    damaged.write_text('bpe tokenizer v1\npattern: null\nmerges: 2\n97 97\n')
    code, _, stderr = run_bpe("show", "--model", damaged)
    assert "line 5: expected a merge line" in one_line_error(code, stderr)


def test_bad_ids(model):
    code, _, stderr = run_bpe("decode", "--model", model, stdin=b"104 hello")
    assert "'hello' is not a token id" in one_line_error(code, stderr)
    code, _, stderr = run_bpe("decode", "--model", model, stdin=b"104 -3")
    assert "'-3' is not a token id" in one_line_error(code, stderr)
    code, _, stderr = run_bpe("decode", "--model", model, stdin=b"104 5000")
    assert "unknown token id 5000 (vocabulary size 270)" in one_line_error(code, stderr)


def test_stdin_that_is_not_utf8(model):
    code, _, stderr = run_bpe("encode", "--model", model, stdin=b"ok\xff")
    assert "standard input is not valid UTF-8: byte 0xff at offset 2" in one_line_error(code,
                                                                                        stderr)


def test_output_directory_must_exist(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text(CORPUS)
    code, stdout, stderr = run_bpe("train", "--data", data, "--vocab-size", 300,
                                   "--out", tmp_path / "missing" / "out.bpe")
    assert f"No such directory: {tmp_path / 'missing'}" in one_line_error(code, stderr)
    assert stdout == ""


def test_usage_mistakes_are_one_line_too(tmp_path):
    code, _, stderr = run_bpe("train", "--data", tmp_path / "corpus.txt")
    assert code == 2
    assert stderr == ("error: the following arguments are required: --vocab-size, --out "
                      "(see python -m bpe train --help)\n")
    code, _, stderr = run_bpe("train", "--data", "x", "--vocab-size", "many", "--out", "y")
    assert code == 2 and "invalid int value: 'many'" in stderr and stderr.count("\n") == 1


def test_an_existing_tokenizer_is_kept_unless_forced(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text(CORPUS)
    out = tmp_path / "out.bpe"
    out.write_text("an earlier tokenizer")
    code, stdout, stderr = run_bpe("train", "--data", data, "--vocab-size", 260, "--out", out)
    assert f"{out} already exists; pass --force" in one_line_error(code, stderr)
    assert stdout == "" and out.read_text() == "an earlier tokenizer"
    code, stdout, stderr = run_bpe("train", "--data", data, "--vocab-size", 260, "--out", out,
                                   "--force")
    assert code == 0, stderr
    assert stdout.rstrip().endswith(f"wrote {out}")
    assert out.read_text(encoding="utf-8").startswith("bpe tokenizer v1\n")


def test_out_that_cannot_be_the_tokenizer_file(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text(CORPUS)
    code, _, stderr = run_bpe("train", "--data", data, "--vocab-size", 260, "--out", tmp_path,
                              "--force")
    assert f"--out is a directory, not a file: {tmp_path}" in one_line_error(code, stderr)
    code, _, stderr = run_bpe("train", "--data", data, "--vocab-size", 260, "--out", data,
                              "--force")
    assert "is the training text --data itself" in one_line_error(code, stderr)
    assert data.read_text() == CORPUS


def test_a_tokenizer_json_directory_on_the_command_line(shared_data):
    llama = shared_data / "llama-tiny"
    code, stdout, stderr = run_bpe("encode", "--model", llama, "--allow-special",
                                   stdin="hello <|end_of_text|>\n".encode())
    assert (code, stdout) == (0, "257 275 78 220 511 198\n"), stderr
    code, stdout, _ = run_bpe("decode", "--model", llama, stdin=b"510 257 275 78")
    assert (code, stdout) == (0, "<|begin_of_text|>hello")
    code, stdout, _ = run_bpe("show", "--model", llama)
    lines = stdout.splitlines()
    assert "ignore_merges=True" in lines[0] and "InputTemplate(before=(510,)" in lines[0]
    assert "read as transformers' TokenizersBackend" in lines[0]
    assert lines[-2:] == ['510: "<|begin_of_text|>" (special token)',
                          '511: "<|end_of_text|>" (special token)']


def test_a_damaged_tokenizer_json_is_one_line(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "Unigram"}}')
    code, _, stderr = run_bpe("show", "--model", tmp_path)
    assert "the model is Unigram; only byte-level BPE" in one_line_error(code, stderr)
    (tmp_path / "tokenizer.json").write_bytes(b"\x00\xff")
    code, _, stderr = run_bpe("encode", "--model", tmp_path, stdin=b"x")
    assert "tokenizer.json is not a tokenizer.json" in one_line_error(code, stderr)
