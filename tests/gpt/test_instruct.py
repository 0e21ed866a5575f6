"""Instruction fine-tuning: the template, the split, the masks, ignored positions' gradients,
response extraction, bad data, the command line, and a run that learns."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpe

import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT, GPTConfig
from gpt.cli import main
from gpt.finetune.train_instructions import InstructConfig, load_splits, response_text
from gpt.finetune.instructions import (Example, collate, encode_and_drop_long, format_example,
                               format_prompt, read_records, split_records)
from gpt.tokenizers import CharTokenizer, load_tokenizer, save_tokenizer

ROOT = Path(__file__).resolve().parents[2]
PREAMBLE = ("Below is an instruction that describes a task. Write a response that "
            "appropriately completes the request.")


class ByteTokenizer:
    """One id per UTF-8 byte and <|endoftext|> = 256: token counts a test can work out by hand."""
    special_tokens = {"<|endoftext|>": 256}
    vocab_size = 257
    input_template = bpe.InputTemplate()           # nothing around a text's ids

    def encode_ordinary(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids, errors="replace"):
        return bytes(ids).decode("utf-8", errors)


def short_records(n):
    """n records short enough for gpt2-tiny's 128-token context, half of them with an input."""
    words = ["red", "blue", "green", "black", "white", "gold", "grey", "pink"]
    return [{"instruction": "Repeat the word." if i % 2 else "Name a colour.",
             "input": words[i % 8] if i % 2 else "",
             "output": f"{words[i % 8].capitalize()}."} for i in range(n)]


def write_records(path, records):
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


# ----- the template ----------------------------------------------------------------------------

def test_template_without_input_has_no_input_section():
    record = {"instruction": "Name a primary colour.", "input": "", "output": "Red."}
    assert format_prompt(record) == (PREAMBLE + "\n\n### Instruction:\nName a primary colour."
                                     "\n\n### Response:\n")
    assert format_example(record) == format_prompt(record) + "Red."


def test_template_with_input():
    record = {"instruction": "Edit the following sentence for grammar.",
              "input": "He go to the park every day.", "output": "He goes to the park every day."}
    assert format_example(record) == (
        PREAMBLE + "\n\n### Instruction:\nEdit the following sentence for grammar."
        "\n\n### Input:\nHe go to the park every day.\n\n### Response:\n"
        "He goes to the park every day.")


# ----- the split and the examples --------------------------------------------------------------

def test_split_is_85_5_10_disjoint_and_fixed_by_the_seed():
    records = [{"instruction": str(i), "input": "", "output": ""} for i in range(1100)]
    split = split_records(records, seed=123)
    assert [len(split[name]) for name in ("train", "validation", "test")] == [935, 55, 110]
    ids = [r["instruction"] for name in split for r in split[name]]
    assert sorted(ids, key=int) == [str(i) for i in range(1100)]       # each exactly once
    assert split_records(records, seed=123) == split
    assert split_records(records, seed=124)["test"] != split["test"]
    assert split["train"][:5] != records[:5]                           # it is shuffled


def test_examples_longer_than_the_context_are_dropped_and_counted():
    record = {"instruction": "Say it.", "input": "", "output": ""}
    prompt_length = len(format_prompt(record))             # bytes = tokens here
    records = [dict(record, output="x" * n) for n in range(6)]
    # prompt + n response tokens + end-of-text fit in prompt_length + 3 for n <= 2
    kept, dropped = encode_and_drop_long(ByteTokenizer(), records, block_size=prompt_length + 3)
    assert dropped == 3 and [len(e.record["output"]) for e in kept] == [0, 1, 2]
    longest = kept[-1]
    assert len(longest) == prompt_length + 3 and longest.prompt_length == prompt_length
    assert longest.ids == list(format_example(longest.record).encode()) + [256]


def test_split_sizes_with_gpt2_tiny_are_counted_per_split(shared_data):
    tokenizer = load_tokenizer(shared_data / "gpt2-tiny")
    splits, dropped = load_splits(shared_data / "instruction-data.json", tokenizer, 128, seed=123)
    sizes = {name: len(splits[name]) + dropped[name] for name in splits}
    assert sizes == {"train": 935, "validation": 55, "test": 110}
    assert all(dropped[name] > len(splits[name]) for name in ("validation", "test"))
    assert all(len(example) <= 128 for name in splits for example in splits[name])


def test_an_empty_split_is_a_clear_error(tmp_path):
    few = write_records(tmp_path / "few.json", short_records(3))
    with pytest.raises(ValueError, match="the test split is empty: .* only 3 records"):
        load_splits(few, ByteTokenizer(), 1000, seed=0)
    many = write_records(tmp_path / "many.json", short_records(40))
    with pytest.raises(ValueError, match="the train split is empty: none of its 34 examples "
                                         "fits the model's context of 50 tokens"):
        load_splits(many, ByteTokenizer(), 50, seed=0)


def test_a_tokenizer_without_end_of_text_is_a_clear_error(tmp_path):
    data = write_records(tmp_path / "data.json", short_records(20))
    with pytest.raises(ValueError, match="no <\\|endoftext\\|> token"):
        load_splits(data, CharTokenizer.from_text(PREAMBLE), 1000, seed=0)


# ----- batches and masks -----------------------------------------------------------------------

def test_collate_shifts_pads_and_masks_by_hand():
    # ids = prompt + response + [end-of-text 2]; the pad is the end-of-text id, 2 here
    long = Example(record=None, ids=[10, 11, 12, 13, 14, 2], prompt_length=3)
    short = Example(record=None, ids=[20, 21, 22, 2], prompt_length=2)
    inputs, targets = collate([long, short], pad_id=2)
    assert inputs.tolist() == [[10, 11, 12, 13, 14],
                               [20, 21, 22, 2, 2]]          # right-padded with end-of-text
    assert targets.tolist() == [[11, 12, 13, 14, 2],
                                [21, 22, 2, -100, -100]]    # first end-of-text kept, then -100
    assert inputs.dtype == targets.dtype == np.int64

    _, masked = collate([long, short], pad_id=2, mask_prompt=True)
    # prompt 10 11 12: the targets 11 and 12 are prompt tokens; 13 is the response's first
    assert masked.tolist() == [[-100, -100, 13, 14, 2],
                               [-100, 22, 2, -100, -100]]


def tiny_model(seed=0):
    return GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16), seed=seed)


def gradients(model, inputs, targets):
    model.zero_grad()
    _, loss = model(inputs, targets)
    loss.backward()
    return loss.item(), {name: p.grad.copy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("mask_prompt", [False, True])
def test_padding_positions_contribute_exactly_zero_gradient(mask_prompt):
    rng = np.random.default_rng(0)
    examples = [Example(None, rng.integers(1, 30, size=n).tolist() + [0], prompt_length=4)
                for n in (12, 7, 5)]
    inputs, targets = collate(examples, pad_id=0, mask_prompt=mask_prompt)
    model = tiny_model()
    loss, grads = gradients(model, inputs, targets)
    # Whatever tokens stand at the padding positions, nothing changes, bit for bit: their
    # targets are -100, and causal attention keeps them from reaching earlier positions.
    padding = targets == -100
    padding[:, :3] = False                 # (the prompt's ignored targets are real inputs)
    other_inputs = np.where(padding, rng.integers(1, 30, size=inputs.shape), inputs)
    assert (other_inputs != inputs).sum() > 5
    other_loss, other_grads = gradients(model, other_inputs, targets)
    assert other_loss == loss
    for name in grads:
        assert np.array_equal(other_grads[name], grads[name]), name
        assert np.abs(grads[name]).sum() > 0, name


def test_ignored_targets_get_exactly_zero_gradient_and_are_left_out_of_the_mean():
    examples = [Example(None, [5, 6, 7, 8, 9, 0], prompt_length=3), Example(None, [4, 3, 0], 1)]
    inputs, targets = collate(examples, pad_id=0, mask_prompt=True)
    logits = tt.tensor(tiny_model()(inputs)[0].data.reshape(-1, 30), requires_grad=True)
    loss = F.cross_entropy(logits, targets.reshape(-1))
    loss.backward()
    ignored = targets.reshape(-1) == -100
    assert ignored.tolist() == [True, True, False, False, False, False, False, True, True, True]
    assert np.all(logits.grad[ignored] == 0) and np.all(logits.grad[~ignored] != 0)
    # the mean is over the 4 counted targets only
    log_probs = F.log_softmax(logits, dim=-1).data
    counted = np.flatnonzero(~ignored)
    by_hand = -np.mean(log_probs[counted, targets.reshape(-1)[counted]])
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)


# ----- responses -------------------------------------------------------------------------------

@pytest.mark.parametrize("generated, expected", [
    ("Paris.", "Paris."),                                   # ran out of tokens
    (" Paris.\n", "Paris."),                                # stripped
    ("Paris.\n\n### Instruction:\nName", "Paris."),         # stops at the next section
    ("Paris.###", "Paris."),
])
def test_response_text_stops_at_the_next_section(generated, expected):
    assert response_text(ByteTokenizer(), list(generated.encode()), eot=256) == expected


def test_response_text_stops_at_end_of_text():
    ids = list(b"Paris.") + [256] + list(b"junk after the end")
    assert response_text(ByteTokenizer(), ids, eot=256) == "Paris."
    assert response_text(ByteTokenizer(), [256, 65], eot=256) == ""


# ----- bad data files --------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('[{"instruction": "a", "input": "", "output": "b"},\n', "not valid JSON: .* line 2"),
    ('{"instruction": "a", "input": "", "output": "b"}', "expected a JSON list of an object .* "
                                                         "got a JSON dict"),
    ('[\n{"instruction": "a", "input": "", "output": "b"},\n\n{"instruction": "a", "input": ""}]',
     "entry 1 \\(line 4\\) has no 'output'; expected an object \\{\"instruction\": str"),
    ('[{"instruction": "a", "input": "", "output": "b"},\n {"instruction": "a", "input": 3, '
     '"output": "b"}]', "entry 1 \\(line 2\\) has a int for 'input', not a string"),
    ('[\n  "just a string"\n]', "entry 0 \\(line 2\\) is a JSON str"),
])
def test_a_bad_data_file_names_the_entry_its_line_and_what_was_expected(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_records(path)


def test_the_real_data_file_reads(shared_data):
    records = read_records(shared_data / "instruction-data.json")
    assert len(records) == 1100 and set(records[0]) == {"instruction", "input", "output"}


# ----- the command line ------------------------------------------------------------------------

def run_cli(capsys, *args):
    code = main(["finetune-instruct", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_user_mistakes_are_one_line_errors(tmp_path, shared_data, capsys):
    model = shared_data / "gpt2-tiny"
    good = write_records(tmp_path / "good.json", short_records(20))
    bad = write_records(tmp_path / "bad.json", [{"instruction": "x", "output": "y"}])
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", tmp_path / "no.json",
                                   "--out", tmp_path / "o"), "no.json")
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", bad, "--out",
                                   tmp_path / "o"), "entry 0", "has no 'input'")
    assert_one_line_error(*run_cli(capsys, "--model", tmp_path, "--data", good, "--out",
                                   tmp_path / "o"), "config.json")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", good, "--out",
                                   tmp_path / "full"), "already exists")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", good, "--out",
                                   tmp_path / "o", "--lr", "0"), "lr")
    # a model whose tokenizer has no <|endoftext|>
    chars = tmp_path / "chars"
    config = GPTConfig(vocab_size=60, block_size=512, n_layer=1, n_head=1, n_embd=8)
    GPT(config).save_pretrained(chars)
    save_tokenizer(CharTokenizer.from_text(format_example(short_records(2)[1]) + "abcd"), chars)
    assert_one_line_error(*run_cli(capsys, "--model", chars, "--data", good, "--out",
                                   tmp_path / "o"), "<|endoftext|>")
    assert not (tmp_path / "o").exists()      # nothing is created for a run that cannot start


def test_cli_in_a_subprocess_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gpt", "finetune-instruct", "--model",
                             str(tmp_path), "--data", str(tmp_path / "x.json"), "--out",
                             str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    flag = subprocess.run([sys.executable, "-m", "gpt", "finetune-instruct", "--epochs", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert flag.returncode == 2 and "Traceback" not in flag.stderr


# ----- runs ----------------------------------------------------------------------------------

def finetune(*args):
    """`python -m gpt finetune-instruct ...` in a subprocess. One BLAS thread: on a busy 2-core
    machine OpenBLAS's two threads wait for each other on these small matmuls (7x slower)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gpt", "finetune-instruct", *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def reported_losses(stdout):
    """(validation loss before, after, training loss on response tokens) from the summary."""
    match = re.search(r"validation loss (\d+\.\d+) -> (\d+\.\d+) \(-?\d+\.\d% lower\); "
                      r"training loss on response tokens (\d+\.\d+)", stdout)
    return tuple(float(value) for value in match.groups())


def test_a_short_run_lowers_the_loss_and_writes_model_and_responses(tmp_path, shared_data):
    data = write_records(tmp_path / "data.json", short_records(24))
    out = tmp_path / "out"
    flags = ["--model", shared_data / "gpt2-tiny", "--data", data, "--mask-prompt", "--epochs", 3,
             "--lr", 1e-3, "--batch-size", 10, "--seed", 0]
    result = finetune(*flags, "--out", out)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"{name}: {n} examples (0 dropped: longer than the context of 128 "
                         f"tokens)" for name, n in (("train", 20), ("validation", 2), ("test", 2))]
    train_losses = [float(re.match(r"epoch \d/3: train loss (\d+\.\d+)", line)[1])
                    for line in lines if line.startswith("epoch ")]
    assert len(train_losses) == 3 and train_losses[-1] < train_losses[0]
    before, after, _ = reported_losses(result.stdout)
    assert after < 0.7 * before

    responses = json.loads((out / "test_responses.json").read_text(encoding="utf-8"))
    assert len(responses) == 2
    for response in responses:
        assert set(response) == {"instruction", "input", "output", "model_response"}
        assert "###" not in response["model_response"]
    # the directory is a plain GPT-2 checkpoint with gpt2-tiny's tokenizer
    model, tokenizer = GPT.from_pretrained(out), load_tokenizer(out)
    assert model.config.block_size == 128
    assert tokenizer.special_tokens == {"<|endoftext|>": 0}
    assert tokenizer.encode(PREAMBLE) == load_tokenizer(shared_data / "gpt2-tiny").encode(PREAMBLE)
    assert json.loads((out / "config.json").read_text())["eos_token_id"] == 0
    assert json.loads((out / "instruct_metrics.json").read_text())["val_loss_after"] == \
        pytest.approx(after, abs=1e-4)

    again = finetune(*flags, "--out", out)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and \
        "already exists" in again.stderr


def test_a_lora_run_trains_only_the_adapters_and_saves_a_plain_checkpoint(tmp_path, shared_data):
    data = write_records(tmp_path / "data.json", short_records(24))
    out = tmp_path / "out"
    result = finetune("--model", shared_data / "gpt2-tiny", "--data", data, "--out", out,
                      "--mask-prompt", "--epochs", 2, "--lr", 1e-2, "--lora-rank", 4,
                      "--batch-size", 10, "--seed", 0)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # rank 4 on c_attn (64 -> 192), attn.c_proj (64 -> 64), c_fc (64 -> 256), mlp.c_proj
    # (256 -> 64) in 2 blocks: 4 * (256 + 128 + 320 + 320) * 2 = 8,192
    assert "LoRA rank 4, alpha 8: 8,192 of 149,248 parameters train (5.5%)" in result.stdout
    before, after, _ = reported_losses(result.stdout)
    assert after < before
    merged = GPT.from_pretrained(out)
    assert merged.num_parameters() == 141_056         # gpt2-tiny's own count: no adapters left
    base = GPT.from_pretrained(shared_data / "gpt2-tiny")
    changed = [name for name, p in merged.named_parameters()
               if not np.array_equal(p.data, dict(base.named_parameters())[name].data)]
    # only the wrapped layers' weights moved; embeddings, biases and layer norms are frozen
    assert changed and all(name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))
                           for name in changed)
    wide = finetune("--model", shared_data / "gpt2-tiny", "--data", data, "--out",
                    tmp_path / "wide", "--lora-rank", 65)
    assert wide.returncode == 1 and wide.stderr.count("\n") == 1 and "rank 65" in wide.stderr


# ----- the output directory --------------------------------------------------------------------

def failing(*args, **kwargs):
    raise KeyboardInterrupt        # as Ctrl-C would, or any error


@pytest.mark.parametrize("interrupted", ["generate_response", "save_tokenizer"])
def test_an_interrupted_run_leaves_no_output_directory_and_a_rerun_succeeds(
        tmp_path, shared_data, monkeypatch, interrupted):
    from gpt.finetune import shared, train_instructions as instruct
    data = write_records(tmp_path / "data.json", short_records(24))
    out = tmp_path / "out"
    config = instruct.InstructConfig(model=str(shared_data / "gpt2-tiny"), data=str(data),
                                     out=str(out), epochs=1, subset=4, max_new_tokens=3,
                                     seed=0)
    with monkeypatch.context() as patch:
        # while answering the test split (before anything is written), or while writing
        patch.setattr(shared if interrupted == "save_tokenizer" else instruct, interrupted,
                      failing)
        with pytest.raises(KeyboardInterrupt):
            instruct.finetune_instruct(config, log=lambda line: None)
    assert not out.exists() and list(tmp_path.iterdir()) == [data]     # no temporary left
    result = instruct.finetune_instruct(config, log=lambda line: None)
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "generation_config.json", "instruct_metrics.json", "merges.txt",
        "model.safetensors", "test_responses.json", "vocab.json"]
    assert len(result["responses"]) == 2


@pytest.mark.parametrize("settings, message", [
    (dict(lr=float("nan")), r"--lr must be a number in \(0, inf\), got nan"),
    (dict(weight_decay=float("nan")), r"weight_decay must be a number in \[0, inf\), got nan"),
    (dict(grad_clip=-1.0), "grad_clip must be a number in"),
    (dict(epochs=-1), "--epochs must be at least 1"),
    (dict(max_new_tokens=0), "--max-new-tokens must be at least 1"),
    (dict(subset=0), "--subset must be at least 1"),
    (dict(subset=1.5), "--subset must be an integer, got 1.5"),
    (dict(seed=-3), "--seed must be at least 0, got -3"),
    (dict(lora_rank=2, lora_alpha=-2), "lora_alpha must be a number in"),
])
def test_instruct_settings_are_checked_and_named(settings, message):
    with pytest.raises((TypeError, ValueError), match=message):
        InstructConfig(model="m", data="d", out="o", **settings)
