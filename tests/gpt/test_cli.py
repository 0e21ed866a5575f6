"""`python -m gpt`: one-line errors, streaming samples, Ctrl-C, resume."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind.\n" * 60


def gpt(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "gpt", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def small_run_flags(tmp_path, out="run"):
    data = tmp_path / "corpus.txt"
    data.write_text(CORPUS, encoding="utf-8")
    return ["--data", data, "--out", tmp_path / out, "--char", "--n-layer", 1, "--n-head", 2,
            "--n-embd", 16, "--block-size", 16, "--batch-size", 4, "--eval-iters", 2,
            "--log-interval", 5, "--sample-tokens", 10]


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_explains_every_flag():
    out = gpt("train", "--help").stdout
    for flag in ("--data", "--out", "--char", "--vocab-size", "--n-layer", "--n-head",
                 "--n-embd", "--block-size", "--batch-size", "--max-iters", "--lr",
                 "--dropout", "--eval-interval", "--eval-iters", "--grad-accum",
                 "--warmup-iters", "--min-lr", "--weight-decay", "--seed", "--resume"):
        assert flag in out, flag
    assert "--prompt" in gpt("sample", "--help").stdout


@pytest.mark.parametrize("command", ["sample", "finetune-instruct", "finetune-classify",
                                     "finetune-preference", "attention", "lens", "explain"])
def test_help_does_not_say_gpt2_only_of_commands_that_load_llama_and_qwen(command, capsys):
    from gpt.cli import main
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "GPT-2 directory" not in out and "GPT-2 checkpoint" not in out
    if command in ("sample", "finetune-instruct", "finetune-classify"):
        assert "Hugging Face's GPT-2, Llama or Qwen" in out


def test_train_then_sample_then_resume(tmp_path):
    flags = small_run_flags(tmp_path)
    first = gpt("train", *flags, "--max-iters", 10, "--eval-interval", 5)
    assert first.returncode == 0, first.stderr
    assert "iter    10/10" in first.stdout and "sample:" in first.stdout
    assert "val loss" in first.stdout
    sample = gpt("sample", "--model", tmp_path / "run", "--prompt", "To be", "--max-new-tokens",
                 15, "--seed", 3)
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.startswith("To be") and len(sample.stdout.rstrip("\n")) == 5 + 15
    again = gpt("train", *flags, "--max-iters", 10)
    assert_one_line_error(again, "already exists", "--resume")
    resumed = gpt("train", "--out", tmp_path / "run", "--resume", "--max-iters", 15,
                  "--data", tmp_path / "corpus.txt")
    assert resumed.returncode == 0, resumed.stderr
    assert "iter    15/15" in resumed.stdout and "iter     5/" not in resumed.stdout


def test_sample_from_a_hugging_face_directory(shared_data):
    result = gpt("sample", "--model", shared_data / "gpt2-tiny", "--prompt", "ROMEO:",
                 "--temperature", 0, "--max-new-tokens", 20)
    assert result.returncode == 0, result.stderr
    reference = json.loads((shared_data / "gpt2-tiny" / "reference.json").read_text())
    assert reference["greedy_text"].startswith(reference["prompt"])
    assert result.stdout.startswith("ROMEO:")


def test_user_mistakes_are_one_line_errors(tmp_path):
    assert_one_line_error(gpt("train", "--data", tmp_path / "missing.txt"), "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\xfe")
    assert_one_line_error(gpt("train", "--data", bad, "--out", tmp_path / "o"), "offset 3")
    assert_one_line_error(gpt("sample", "--model", tmp_path), "config.json")
    assert_one_line_error(gpt("train", "--resume", "--out", tmp_path), "not a training checkpoint")
    assert_one_line_error(gpt("train", "--lr", "-1"), "lr")
    short = tmp_path / "short.txt"
    short.write_text("tiny text", encoding="utf-8")
    assert_one_line_error(gpt("train", "--data", short, "--char", "--out", tmp_path / "s"),
                          "block_size + 1")
    flag_error = gpt("train", "--n-layer", "zero")
    assert flag_error.returncode == 2 and flag_error.stderr == (
        "error: argument --n-layer: invalid positive_int value: 'zero' "
        "(see python -m gpt train --help)\n")


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    flags = small_run_flags(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "gpt", "train", *map(str, flags),
                                "--max-iters", "100000", "--eval-interval", "100000",
                                "--log-interval", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:                       # wait until training is under way
        if line.startswith("iter"):
            break
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "checkpoint saved" in stdout and "--resume" in stdout
    out = tmp_path / "run"
    assert (out / "train_state.npz").is_file() and (out / "model.safetensors").is_file()
    stopped_at = int(re.search(r"stopped at iteration (\d+)", stdout).group(1))
    resumed = gpt("train", "--out", out, "--resume", "--max-iters", stopped_at, "--data",
                  tmp_path / "corpus.txt")
    # the checkpoint is at --max-iters already: resuming just evaluates and samples
    assert resumed.returncode == 0, resumed.stderr
    assert f"already at iteration {stopped_at} of --max-iters {stopped_at}: nothing to train" \
        in resumed.stdout


def test_sigterm_is_ctrl_c_and_a_second_run_on_the_directory_is_refused_at_once(tmp_path):
    import tinytorch as tt
    flags = small_run_flags(tmp_path)
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "gpt", "train", *map(str, flags),
                                "--max-iters", "100000", "--eval-interval", "100000",
                                "--log-interval", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:                       # wait until training is under way
        if line.startswith("iter"):
            break
    try:
        assert_one_line_error(gpt("train", *flags, "--max-iters", 10),
                              str(out), "another training run is using this directory")
        assert_one_line_error(gpt("train", "--out", out, "--resume"),
                              "another training run is using this directory")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM and stderr == ""
    stopped = re.fullmatch(rf"stopped at iteration (\d+); checkpoint saved in {re.escape(str(out))}"
                           rf" \(continue with --resume --out {re.escape(str(out))}\)",
                           stdout.splitlines()[-1])
    assert stopped, stdout[-300:]
    iteration = int(stopped[1])
    assert tt.load(out / "train_state.npz")["iteration"] == iteration
    resumed = gpt("train", "--out", out, "--resume", "--max-iters", iteration + 2,
                  "--sample-tokens", 0)
    assert resumed.returncode == 0, resumed.stderr
    assert f"iter {iteration + 1:5d}/{iteration + 2}" in resumed.stdout
    assert f"iter {iteration:5d}/" not in resumed.stdout


def test_attention_heatmap_in_the_terminal_and_as_svg(shared_data, tmp_path):
    import xml.etree.ElementTree as ET
    svg = tmp_path / "map.svg"
    result = gpt("attention", "--model", shared_data / "gpt2-tiny", "--text", "To be, or not",
                 "--layer", 1, "--head", 2, "--svg", svg)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "layer 1, head 2"
    assert any(line.rstrip().endswith("█") for line in lines)   # the first token sees itself
    root = ET.fromstring(svg.read_text())
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) > 4
    values = gpt("attention", "--model", shared_data / "gpt2-tiny", "--text", "To be",
                 "--values")
    assert "1.00" in values.stdout
    assert_one_line_error(gpt("attention", "--model", shared_data / "gpt2-tiny", "--text", "x",
                              "--layer", 5), "layers 0 to 1")


def small_spam_file(tmp_path, shared_data, n_per_class=8):
    """A balanced label<TAB>text file of the first spam and ham messages."""
    rows = {"ham": [], "spam": []}
    lines = (shared_data / "sms_spam.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        label = line.split("\t", 1)[0]
        if len(rows[label]) < n_per_class:
            rows[label].append(line)
    path = tmp_path / "spam.tsv"
    path.write_text("\n".join(["Label\tSMS", *rows["ham"], *rows["spam"]]) + "\n",
                    encoding="utf-8")
    return path


def small_instruction_file(tmp_path):
    records = [{"instruction": "Name a colour.", "input": "", "output": "Red."}] * 20
    path = tmp_path / "instructions.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["train", "finetune-classify", "finetune-instruct"])
def test_a_run_that_diverges_on_its_last_step_is_a_one_line_error_and_saves_no_model(
        tmp_path, shared_data, command):
    # lr 1e30: the first (and only) step turns the weights to inf; the loss that would show
    # it is computed only after that step, by the final evaluation.
    out = tmp_path / "out"
    model = shared_data / "gpt2-tiny"
    flags = {"train": [*small_run_flags(tmp_path, "out"), "--max-iters", 1],
             "finetune-classify": ["--model", model, "--data", small_spam_file(tmp_path,
                                   shared_data), "--out", out, "--epochs", 1,
                                   "--batch-size", 16],
             "finetune-instruct": ["--model", model, "--data", small_instruction_file(tmp_path),
                                   "--out", out, "--epochs", 1, "--subset", 8]}[command]
    result = gpt(command, *flags, "--lr", "1e30")
    assert_one_line_error(result, "loss became nan", "try a smaller --lr")  # no RuntimeWarning
    if command != "train":
        assert not (out / "model.safetensors").exists()
        return
    # train saved iteration 0 at its start, never the diverged weights; a run that made no
    # progress does not block its directory: the same command with a smaller --lr works
    import numpy as np

    import tinytorch as tt
    from tinytorch import safetensors
    assert tt.load(out / "train_state.npz")["iteration"] == 0
    assert all(np.isfinite(w).all()
               for w in safetensors.load_file(out / "model.safetensors").values())
    assert gpt(command, *flags, "--lr", "1e-3").returncode == 0


@pytest.mark.parametrize("command", ["train", "finetune-classify", "finetune-instruct"])
def test_an_infinite_learning_rate_is_refused(tmp_path, command):
    flags = {"train": [], "finetune-classify": ["--model", tmp_path, "--data", tmp_path,
                                                "--out", tmp_path / "o"],
             "finetune-instruct": ["--model", tmp_path, "--data", tmp_path,
                                   "--out", tmp_path / "o"]}[command]
    assert_one_line_error(gpt(command, *flags, "--lr", "inf"), "lr must be", "inf")


# ----- in-process: argument errors, memory, text that is not UTF-8 ----------------------------

def run_main(capsys, *args):
    """(exit status, stdout, stderr) of gpt.cli.main in this process."""
    from gpt.cli import main
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("args, message", [
    ([], "error: the following arguments are required: COMMAND (see python -m gpt --help)"),
    (["sample"], "error: the following arguments are required: --model "
                 "(see python -m gpt sample --help)"),
    (["train", "--dropout"], "error: argument --dropout: expected one argument "
                             "(see python -m gpt train --help)"),
    (["train", "--char", "--vocab-size", "300"], "error: argument --vocab-size: not allowed "
                                                 "with argument --char"),
    (["finetune-classify", "--model", "m", "--data", "d", "--out", "o", "--epochs", "0"],
     "error: argument --epochs: must be at least 1, got 0 "
     "(see python -m gpt finetune-classify --help)"),
])
def test_an_argument_error_is_one_line_that_points_to_help_not_the_usage(capsys, args,
                                                                          message):
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == "" and err.startswith(message) and err.count("\n") == 1


def test_flag_values_are_checked_before_anything_is_loaded(capsys, tmp_path):
    # tmp_path holds no model: the flag is what the error is about
    for args, message in ((["--temperature", "nan"], "temperature must be a number in "
                                                     "[0, inf], got nan"),
                          (["--top-p", "1.5"], "top_p must be a number in (0, 1], got 1.5"),
                          (["--seed", "-1"], "seed must be at least 0, got -1")):
        status, _, err = run_main(capsys, "sample", "--model", tmp_path, *args)
        assert status == 1 and err == f"error: {message}\n"


def test_a_prompt_that_is_not_utf8_names_the_flag_and_the_byte(capsys, tmp_path):
    from gpt.cli import first_bad_byte
    prompt = os.fsdecode(b"caf\xe9 \xff")            # as Python receives such an argument
    status, out, err = run_main(capsys, "sample", "--model", tmp_path, "--prompt", prompt)
    assert status == 2 and out == ""
    assert err == ("error: argument --prompt: not valid UTF-8 (byte 0xe9 at offset 3) "
                   "(see python -m gpt sample --help)\n")
    assert first_bad_byte("ok \ud800") == "character 3 is a lone surrogate"
    assert first_bad_byte(os.fsdecode("né".encode() + b"\xc3")) == "byte 0xc3 at offset 3"


@pytest.mark.parametrize("command, advice", [
    (["train"], "lower --batch-size, --block-size, --n-embd or --n-layer"),
    (["sample", "--model", "m"], "the model is too large for the free memory of this machine"),
    (["finetune-instruct", "--model", "m", "--data", "d", "--out", "o"],
     "lower --batch-size (or --lora-rank)"),
])
def test_a_memory_error_that_still_happens_is_one_line_with_advice(capsys, monkeypatch,
                                                                   command, advice):
    import gpt.cli
    from gpt.safeguards.memory import NotEnoughMemory

    def out_of_memory(args):
        raise MemoryError("Unable to allocate 3.5 TiB for an array with shape (10000000, "
                          "100000) and data type float32")
    for name in ("run_train", "run_sample", "run_finetune_instruct"):
        monkeypatch.setattr(gpt.cli, name, out_of_memory)
    status, _, err = run_main(capsys, *command)
    assert status == 1 and err == ("error: out of memory (Unable to allocate 3.5 TiB for an "
                                   "array with shape (10000000, 100000) and data type "
                                   f"float32); {advice}\n")

    def estimated(args):
        raise NotEnoughMemory("training needs about 3 TB; lower --batch-size")
    for name in ("run_train", "run_sample", "run_finetune_instruct"):
        monkeypatch.setattr(gpt.cli, name, estimated)
    assert run_main(capsys, *command)[2] == "error: training needs about 3 TB; lower " \
                                            "--batch-size\n"


def test_sampling_without_a_prompt_starts_from_a_character_the_vocabulary_has(capsys,
                                                                             tmp_path):
    # trained on text without a newline: the sample cannot start from "\n"
    data = tmp_path / "a.txt"
    data.write_text("abab" * 100, encoding="utf-8")
    status, out, err = run_main(capsys, "train", "--data", data, "--out", tmp_path / "run",
                                "--char", "--n-layer", 1, "--n-head", 1, "--n-embd", 4,
                                "--block-size", 8, "--max-iters", 1, "--sample-tokens", 5)
    assert status == 0, err
    status, out, err = run_main(capsys, "sample", "--model", tmp_path / "run",
                                "--max-new-tokens", 5, "--seed", 0)
    assert status == 0 and len(out) == 6 and set(out[:-1]) <= {"a", "b"}, err
