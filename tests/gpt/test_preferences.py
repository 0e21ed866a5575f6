"""Preference tuning with DPO: pairs (the template, the left cut, the counts), batches, the
hand checks through a real model (log 2 and margin 0 at the start, swapping negates the
gradient there, padding changes nothing), bad data, the command line, runs, and the README's
two commands reaching the issue's targets."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpe

import tinytorch.functional as F
import tinytorch.functional.composed as composed_functions
from gpt import GPT, GPTConfig
from gpt.cli import main
from gpt.finetune.instructions import format_prompt, read_records, split_records
from gpt.finetune.preferences import (FIELDS, Pair, PairCounts, collate_pairs, encode_pair,
                                      encode_pairs, header_length)
from gpt.finetune.train_preferences import (PreferenceConfig, load_pairs, pair_log_probs,
                                            preference_figures, score_pairs)
from gpt.tokenizers import CharTokenizer, load_tokenizer, save_tokenizer
from test_instruct import PREAMBLE, ByteTokenizer, assert_one_line_error

ROOT = Path(__file__).resolve().parents[2]
EOT = 256                                  # ByteTokenizer's <|endoftext|>
RECORD = {"instruction": "Name a colour.", "input": "", "output": "Red.",
          "chosen": "Red, if I may.", "rejected": "Red, obviously."}


def polite_records(n):
    """n preference records a small model can tell apart: a polite and a rude answer."""
    words = ["red", "blue", "green", "black", "white", "gold", "grey", "pink"]
    return [{"instruction": "Name a colour." if i % 2 else "Repeat the word.",
             "input": "" if i % 2 else words[i % 8], "output": f"{words[i % 8]}.",
             "chosen": f"{words[i % 8].capitalize()}, thank you.",
             "rejected": f"{words[i % 8].capitalize()}, idiot."} for i in range(n)]


def write_records(path, records):
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


# ----- pairs -------------------------------------------------------------------------------------

def test_a_pair_that_fits_keeps_its_whole_prompt():
    pair = encode_pair(RECORD, ByteTokenizer(), EOT, block_size=1000)
    assert pair.prompt == list(format_prompt(RECORD).encode()) and pair.cut == 0
    assert pair.chosen == list(b"Red, if I may.") + [EOT]
    assert pair.rejected == list(b"Red, obviously.") + [EOT]
    chosen, rejected = pair.examples()
    assert chosen.ids == pair.prompt + pair.chosen and chosen.prompt_length == len(pair.prompt)
    assert rejected.ids == pair.prompt + pair.rejected


def test_the_response_header_is_the_least_a_cut_prompt_keeps():
    prompt = list(format_prompt(RECORD).encode())
    assert header_length(ByteTokenizer(), prompt) == len("### Response:\n")


def test_the_response_header_in_gpt2_tiny_tokens(shared_data):
    tokenizer = load_tokenizer(shared_data / "gpt2-tiny")
    ids = tokenizer.encode_ordinary(format_prompt(RECORD))
    n = header_length(tokenizer, ids)               # 8: '#', ' R', 'es', 'p', ..., '\n'
    assert tokenizer.decode(ids[-n:]).endswith("### Response:\n")
    assert "### Response:" not in tokenizer.decode(ids[-n + 1:])


def test_a_pair_too_long_is_cut_from_the_left_and_dropped_only_when_the_responses_do_not_fit():
    tokenizer = ByteTokenizer()
    prompt = list(format_prompt(RECORD).encode())
    longest = len("Red, obviously.") + 1                  # the rejected response and its end
    header = len("### Response:\n")
    for room in (len(prompt) - 1, 40, header):            # prompt tokens that fit
        pair = encode_pair(RECORD, tokenizer, EOT, block_size=room + longest)
        assert pair.prompt == prompt[-room:] and pair.cut == len(prompt) - room
        assert bytes(pair.prompt).decode().endswith("### Response:\n")
        assert len(pair) == room + longest
        assert pair.chosen == list(b"Red, if I may.") + [EOT]    # responses are never cut
    assert encode_pair(RECORD, tokenizer, EOT, block_size=header + longest - 1) is None


def test_a_cut_keeps_the_templates_opening_id():
    class OpeningTokenizer(ByteTokenizer):           # as Llama 3's: begin-of-text first
        input_template = bpe.InputTemplate(before=(257,))
    prompt = list(format_prompt(RECORD).encode())
    longest = len("Red, obviously.") + 1
    whole = encode_pair(RECORD, OpeningTokenizer(), EOT, block_size=1000)
    assert whole.prompt == [257] + prompt and whole.cut == 0
    cut = encode_pair(RECORD, OpeningTokenizer(), EOT, block_size=1 + 40 + longest)
    assert cut.prompt == [257] + prompt[-40:] and cut.cut == len(prompt) - 40
    header = len("### Response:\n")
    assert encode_pair(RECORD, OpeningTokenizer(), EOT, block_size=header + longest) is None


def test_the_counts_say_what_became_of_each_record():
    same = dict(RECORD, chosen="Red.", rejected="Red.")
    long = dict(RECORD, rejected="x" * 300)
    records = [RECORD, same, long, dict(RECORD, instruction="Name a colour. " * 10)]
    pairs, counts = encode_pairs(ByteTokenizer(), records, block_size=200)
    assert vars(counts) == {"whole": 1, "cut": 1, "too_long": 1, "same": 1}
    assert [pair.cut > 0 for pair in pairs] == [False, True]
    assert counts.describe(200) == (
        "2 pairs (1 with the prompt cut from the left to fit the context of 200 tokens; "
        "dropped: 1 whose responses alone do not fit, 1 whose responses are the same)")
    assert PairCounts(whole=3).describe(128) == (
        "3 pairs (0 with the prompt cut from the left to fit the context of 128 tokens; "
        "dropped: none)")


class AsciiTokenizer(ByteTokenizer):
    """ByteTokenizer for ASCII text only: what a character-level model does with a character
    it never saw."""

    def encode_ordinary(self, text):
        if not text.isascii():
            raise ValueError(f"characters not in this model's vocabulary: "
                             f"{sorted(set(text) - set(map(chr, range(128))))!r}")
        return super().encode_ordinary(text)


def test_a_record_the_tokenizer_cannot_encode_is_named_by_its_entry():
    records = [RECORD, dict(RECORD, chosen="Red, s\u00ed.")]
    with pytest.raises(ValueError, match=r"prefs.json: entry 7 cannot be encoded: .*'\u00ed'"):
        encode_pairs(AsciiTokenizer(), records, 1000, entries=[3, 7], path="prefs.json")


def test_collate_pairs_puts_the_chosen_rows_first_and_masks_prompt_and_padding():
    pairs = [Pair({}, [10, 11, 12], [13, 14, 0], [15, 0]),
             Pair({}, [20, 21], [22, 0], [23, 24, 25, 0])]
    inputs, targets = collate_pairs(pairs, pad_id=0)
    assert inputs.tolist() == [[10, 11, 12, 13, 14],           # prompt + chosen
                               [20, 21, 22, 0, 0],
                               [10, 11, 12, 15, 0],            # prompt + rejected
                               [20, 21, 23, 24, 25]]
    assert targets.tolist() == [[-100, -100, 13, 14, 0],
                                [-100, 22, 0, -100, -100],
                                [-100, -100, 15, 0, -100],
                                [-100, 23, 24, 25, 0]]


# ----- the data file -------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('[{"instruction": "a", "input": "", "chosen": "b"}]',
     "entry 0 \\(line 1\\) has no 'rejected'; expected an object \\{\"instruction\": str, "
     "\"input\": str, \"chosen\": str, \"rejected\": str\\}"),
    ('[\n{"instruction": "a", "input": "", "chosen": "b", "rejected": "c"},\n'
     '{"instruction": "a", "input": "", "chosen": 1, "rejected": "c"}]',
     "entry 1 \\(line 3\\) has a int for 'chosen', not a string"),
    ('{"instruction": "a"}', "expected a JSON list"),
    ('[{"instruction": "a",', "not valid JSON"),
])
def test_a_bad_preference_file_names_the_entry_and_what_was_expected(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_records(path, FIELDS)


def test_a_split_with_no_pair_that_fits_is_a_clear_error(tmp_path):
    data = write_records(tmp_path / "prefs.json", polite_records(40))
    with pytest.raises(ValueError, match="the train split is empty: none of its 34 pairs fits "
                                         "the model's context of 20 tokens"):
        load_pairs(data, ByteTokenizer(), 20, seed=0)
    splits, counts = load_pairs(data, ByteTokenizer(), 40, seed=0)     # cut, but they fit
    assert counts["train"].cut == len(splits["train"]) == 34


def test_the_shared_data_fits_and_is_split_as_instruction_tuning_splits_it(shared_data):
    tokenizer = load_tokenizer(shared_data / "gpt2-tiny")
    path = shared_data / "instruction-data-with-preference.json"
    splits, counts = load_pairs(path, tokenizer, 128, seed=123)
    totals = {name: sum(vars(counts[name]).values()) for name in splits}
    assert totals == {"train": 935, "validation": 55, "test": 110}
    assert {name: len(splits[name]) for name in splits} == \
        {name: counts[name].whole + counts[name].cut for name in splits}
    assert len(splits["test"]) >= 100                        # the issue: 100 of 110 scored
    assert sum(len(splits[name]) for name in splits) >= 0.97 * 1100
    assert all(counts[name].whole < counts[name].cut for name in splits)   # most were cut
    assert all(len(pair) <= 128 for name in splits for pair in splits[name])
    # the same seed splits the instruction data the same way: DPO is tested on prompts
    # that instruction tuning never trained on
    instruction_test = split_records(read_records(shared_data / "instruction-data.json"),
                                     123)["test"]
    tested = {(r["instruction"], r["input"]) for r in instruction_test}
    assert all((pair.record["instruction"], pair.record["input"]) in tested
               for pair in splits["test"])


# ----- the hand checks through a model -------------------------------------------------------

def tiny_model():
    config = GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16)
    return GPT(config, seed=0).to(np.float64)


PAIRS = [Pair({}, [5, 6, 7], [8, 9, 10, 0], [11, 0]),
         Pair({}, [12, 13], [14, 0], [15, 16, 17, 18, 0]),
         Pair({}, [19, 20, 21, 22], [23, 0], [24, 25, 0]),
         Pair({}, [26], [27, 28, 0], [29, 1, 2, 0])]


def dpo_gradients(model, pairs, reference, pad_id=0, beta=0.1, functional=F):
    """(loss, margins, {name: gradient}) of one DPO step's loss."""
    model.zero_grad()
    policy = pair_log_probs(model, pairs, pad_id, functional)
    loss = functional.dpo_loss(*policy, *reference, beta=beta)
    loss.backward()
    chosen_rewards, rejected_rewards = F.dpo_rewards(*policy, *reference, beta=beta)
    margins = chosen_rewards.data - rejected_rewards.data
    return loss.item(), margins, {name: p.grad.copy() for name, p in model.named_parameters()}


def test_the_policy_equal_to_the_reference_gives_log_2_margin_0_and_swapping_negates():
    model = tiny_model()
    reference = score_pairs(model, PAIRS, pad_id=0, batch_size=8)
    assert all(p.grad is None for p in model.parameters())     # scored without a graph
    loss, margins, grads = dpo_gradients(model, PAIRS, reference)
    assert loss == math.log(2.0) and np.all(margins == 0)
    swapped = [Pair({}, p.prompt, p.rejected, p.chosen) for p in PAIRS]
    swapped_loss, _, swapped_grads = dpo_gradients(model, swapped, reference[::-1])
    assert swapped_loss == math.log(2.0)
    for name in grads:
        assert np.abs(grads[name]).max() > 0, name
        np.testing.assert_allclose(swapped_grads[name], -grads[name], rtol=1e-9, atol=1e-15,
                                   err_msg=name)


def test_padding_after_the_responses_changes_no_gradient():
    model = tiny_model()
    reference = tuple(values - 0.5 for values in score_pairs(model, PAIRS, 0, 8))
    loss, margins, grads = dpo_gradients(model, PAIRS, reference, pad_id=0)
    for pad_id in (3, 29):
        other_loss, other_margins, other_grads = dpo_gradients(model, PAIRS, reference,
                                                               pad_id=pad_id)
        assert other_loss == loss and np.array_equal(other_margins, margins)
        for name in grads:
            assert np.array_equal(other_grads[name], grads[name]), name


def test_a_sequence_log_prob_is_that_of_the_response_given_the_prompt():
    model = tiny_model()
    inputs, targets = collate_pairs(PAIRS[:2], pad_id=0)
    logits = model(inputs)[0].data
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    chosen, rejected = score_pairs(model, PAIRS[:2], 0, 8)
    # pair 1's rejected response [15, 16, 17, 18, 0] follows its prompt [12, 13]: row 3,
    # positions 1..5 predict it
    by_hand = sum(log_probs[3, t, token] for t, token in enumerate([15, 16, 17, 18, 0], 1))
    assert rejected[1] == pytest.approx(by_hand, rel=1e-12)
    assert chosen[0] == pytest.approx(sum(log_probs[0, t, token] for t, token in
                                          enumerate([8, 9, 10, 0], 2)), rel=1e-12)


def test_the_composed_path_scores_and_steps_as_the_fused_one_does():
    model = tiny_model()
    reference = tuple(values + 0.25 for values in score_pairs(model, PAIRS, 0, 8))
    fused = dpo_gradients(model, PAIRS, reference)
    model.config.fused = False                      # every op composed, to step through
    composed_reference = tuple(values + 0.25 for values in score_pairs(model, PAIRS, 0, 8))
    np.testing.assert_allclose(composed_reference, reference, rtol=1e-12)
    composed = dpo_gradients(model, PAIRS, reference, functional=composed_functions)
    assert composed[0] == pytest.approx(fused[0], rel=1e-12)
    np.testing.assert_allclose(composed[1], fused[1], rtol=1e-9, atol=1e-12)
    for name in fused[2]:
        np.testing.assert_allclose(composed[2][name], fused[2][name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_preference_figures_by_hand():
    policy = (np.array([-1.0, -4.0, -2.0]), np.array([-3.0, -1.0, -2.0]))
    reference = (np.array([-2.0, -2.0, -2.0]), np.array([-2.0, -2.0, -2.0]))
    figures = preference_figures(policy, reference, beta=0.5)
    # rewards chosen [0.5, -1, 0], rejected [-0.5, 0.5, 0]: margins [1, -1.5, 0]
    assert figures["chosen_reward"] == pytest.approx(-0.5 / 3)
    assert figures["rejected_reward"] == pytest.approx(0.0)
    assert figures["margin"] == pytest.approx(-0.5 / 3)
    assert figures["accuracy"] == pytest.approx(1 / 3)           # a tie is no preference
    expected = np.mean(np.log1p(np.exp(-np.array([1.0, -1.5, 0.0]))))
    assert figures["loss"] == pytest.approx(expected, rel=1e-12)


# ----- settings and the command line -----------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    (dict(beta=0), r"--beta must be a number in \(0, inf\), got 0"),
    (dict(beta=float("nan")), r"--beta must be a number in \(0, inf\), got nan"),
    (dict(beta=float("inf")), r"--beta must be a number in \(0, inf\), got inf"),
    (dict(lr=-1.0), "--lr must be a number in"),
    (dict(epochs=0), "--epochs must be at least 1"),
    (dict(max_new_tokens=0), "--max-new-tokens must be at least 1"),
    (dict(lora_rank=0), "--lora-rank must be at least 1"),
])
def test_preference_settings_are_checked_and_named(settings, message):
    with pytest.raises((TypeError, ValueError), match=message):
        PreferenceConfig(model="m", data="d", out="o", **settings)


def run_cli(capsys, *args):
    code = main(["finetune-preference", *map(str, args)])
    return code, capsys.readouterr().err


def test_cli_user_mistakes_are_one_line_errors(tmp_path, shared_data, capsys):
    model = shared_data / "gpt2-tiny"
    good = write_records(tmp_path / "good.json", polite_records(20))
    bad = write_records(tmp_path / "bad.json", polite_records(3) + [{"instruction": "x"}])
    out = tmp_path / "o"
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", tmp_path / "no.json",
                                   "--out", out), "no.json")
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", bad, "--out", out),
                          "entry 3", "has no 'input'")
    assert_one_line_error(*run_cli(capsys, "--model", tmp_path, "--data", good, "--out", out),
                          "config.json")
    for flag, value in (("--beta", "0"), ("--beta", "nan"), ("--lr", "0")):
        assert_one_line_error(*run_cli(capsys, "--model", model, "--data", good, "--out", out,
                                       flag, value), flag)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", good, "--out",
                                   tmp_path / "taken"), "already exists")
    few = write_records(tmp_path / "few.json", polite_records(3))
    assert_one_line_error(*run_cli(capsys, "--model", model, "--data", few, "--out", out),
                          "split is empty")
    # a model whose tokenizer has no <|endoftext|> to end a response with
    chars = tmp_path / "chars"
    GPT(GPTConfig(vocab_size=60, block_size=512, n_layer=1, n_head=1, n_embd=8)).save_pretrained(
        chars)
    save_tokenizer(CharTokenizer.from_text(json.dumps(polite_records(20)) + PREAMBLE), chars)
    assert_one_line_error(*run_cli(capsys, "--model", chars, "--data", good, "--out", out),
                          "no <|endoftext|> token; preference tuning needs one")
    assert not out.exists()


def test_cli_in_a_subprocess_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gpt", "finetune-preference", "--model",
                             str(tmp_path), "--data", str(tmp_path / "x.json"), "--out",
                             str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    flag = subprocess.run([sys.executable, "-m", "gpt", "finetune-preference", "--epochs", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert flag.returncode == 2 and "Traceback" not in flag.stderr


# ----- runs ----------------------------------------------------------------------------------

def finetune(*args, timeout=300):
    """`python -m gpt finetune-preference ...` (or another command, given first) in a
    subprocess with one BLAS thread (two wait on each other on a busy 2-core machine)."""
    command = list(args) if args and args[0].startswith("finetune-") else \
        ["finetune-preference", *args]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gpt", *map(str, command)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


FINAL_LINE = re.compile(r"test preference accuracy (\d\.\d\d), mean test reward margin "
                        r"(-?\d+\.\d\d)")


def test_a_short_run_learns_the_preference_and_writes_a_checkpoint(tmp_path, shared_data):
    data = write_records(tmp_path / "prefs.json", polite_records(60))
    out = tmp_path / "out"
    result = finetune("--model", shared_data / "gpt2-tiny", "--data", data, "--out", out,
                      "--epochs", 2, "--lr", 1e-3, "--batch-size", 10, "--beta", 0.5,
                      "--seed", 0)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["train", "validation", "test"]
    assert lines[:3] == [f"{name}: {n} pairs (0 with the prompt cut from the left to fit the "
                         f"context of 128 tokens; dropped: none)"
                         for name, n in (("train", 51), ("validation", 3), ("test", 6))]
    assert lines[3].startswith("epoch 0/2 | validation loss 0.6931 rewards 0.00/0.00 margin "
                               "0.00 acc 0.00")
    accuracy, margin = (float(x) for x in FINAL_LINE.fullmatch(lines[-1]).groups())
    assert accuracy == 1.0 and margin > 0.5

    metrics = json.loads((out / "preference_metrics.json").read_text(encoding="utf-8"))
    assert metrics["history"][0]["validation"]["loss"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert [entry["epoch"] for entry in metrics["history"]] == [0, 1, 2]
    assert metrics["test"]["accuracy"] == accuracy
    assert metrics["config"]["beta"] == 0.5
    responses = json.loads((out / "test_responses.json").read_text(encoding="utf-8"))
    assert len(responses) == 6
    assert set(responses[0]) == {"instruction", "input", "output", "chosen", "rejected",
                                 "prompt_cut", "response_before", "response_after"}
    # a plain GPT-2 checkpoint that scores the chosen answers higher than the start did
    policy, tokenizer = GPT.from_pretrained(out), load_tokenizer(out)
    base = GPT.from_pretrained(shared_data / "gpt2-tiny")
    pairs, _ = encode_pairs(tokenizer, polite_records(8), 128)
    moved = [np.subtract(*score_pairs(m, pairs, 0, 8)) for m in (base, policy)]
    assert np.all(moved[1] > moved[0])
    again = finetune("--model", shared_data / "gpt2-tiny", "--data", data, "--out", out)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_a_lora_run_trains_only_the_adapters_and_saves_a_plain_checkpoint(tmp_path,
                                                                          shared_data):
    data = write_records(tmp_path / "prefs.json", polite_records(40))
    out = tmp_path / "out"
    result = finetune("--model", shared_data / "gpt2-tiny", "--data", data, "--out", out,
                      "--epochs", 1, "--lr", 1e-2, "--lora-rank", 4, "--batch-size", 10)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "LoRA rank 4, alpha 8: 8,192 of 149,248 parameters train (5.5%)" in result.stdout
    assert FINAL_LINE.fullmatch(result.stdout.splitlines()[-1])
    merged = GPT.from_pretrained(out)
    assert merged.num_parameters() == 141_056                  # gpt2-tiny's: no adapters left
    base = dict(GPT.from_pretrained(shared_data / "gpt2-tiny").named_parameters())
    changed = [name for name, p in merged.named_parameters()
               if not np.array_equal(p.data, base[name].data)]
    assert changed and all(name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))
                           for name in changed)


def failing(*args, **kwargs):
    raise KeyboardInterrupt        # as Ctrl-C would, or any error


def test_an_interrupted_run_leaves_no_output_directory(tmp_path, shared_data, monkeypatch):
    from gpt.finetune import shared, train_preferences
    data = write_records(tmp_path / "prefs.json", polite_records(20))
    out = tmp_path / "out"
    config = PreferenceConfig(model=str(shared_data / "gpt2-tiny"), data=str(data),
                              out=str(out), epochs=1, max_new_tokens=2)
    with monkeypatch.context() as patch:
        patch.setattr(shared, "save_tokenizer", failing)          # while writing
        with pytest.raises(KeyboardInterrupt):
            train_preferences.finetune_preference(config, log=lambda line: None)
    assert not out.exists() and list(tmp_path.iterdir()) == [data]
    lines = []
    result = train_preferences.finetune_preference(config, log=lines.append)
    assert FINAL_LINE.fullmatch(lines[-1]) and len(result["responses"]) == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "generation_config.json", "merges.txt", "model.safetensors",
        "preference_metrics.json", "test_responses.json", "vocab.json"]


# ----- the README's two commands, with their default flags ------------------------------------

def readme_commands():
    """The two commands of the README's preference-tuning section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- dpo-commands -->", 1)[1].split("```bash\n", 1)[1]
    return [line.split() for line in block.split("```", 1)[0].splitlines()
            if line.startswith("python -m gpt ")]


def test_the_readme_commands_reach_the_targets(tmp_path, shared_data):
    """Instruction tuning from gpt2-tiny, then DPO, with default flags: test preference
    accuracy >= 0.80 and a mean test reward margin > 0.5 (from 0), 100 of the 110 test pairs
    scored (about 40 s on one core)."""
    instruct, preference = readme_commands()
    assert instruct[3] == "finetune-instruct" and preference[3] == "finetune-preference"
    outputs = {}
    for command in (instruct, preference):
        args = command[3:]
        for flag in ("--model", "--data", "--out"):
            value = args[args.index(flag) + 1]
            if flag == "--out":
                outputs[value] = tmp_path / Path(value).name
            elif value.startswith("../shared/data/"):
                outputs[value] = shared_data / value[len("../shared/data/"):]
            args[args.index(flag) + 1] = str(outputs[value])
        assert not set(args) & {"--epochs", "--lr", "--beta", "--batch-size"}   # defaults
        result = finetune(*args, timeout=600)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    tested = int(re.match(r"test: (\d+) pairs", lines[2])[1])
    assert tested >= 100
    accuracy, margin = (float(x) for x in FINAL_LINE.fullmatch(lines[-1]).groups())
    assert accuracy >= 0.80 and margin > 0.5
    assert lines[3].endswith("(the policy is the reference: loss log 2, every margin 0)")
