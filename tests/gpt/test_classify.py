"""Classification fine-tuning: the last real token, what trains, the data, saving, the CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch.functional as F
from gpt import GPT
from gpt.cli import main
from gpt.data import pad_batch
from gpt.finetune.classifier import GPTClassifier, load_classifier, save_classifier
from gpt.finetune.labeled_texts import (SPAM_LABELS, balanced_splits, encode_and_truncate,
                                        read_labeled_texts)
from gpt.finetune.train_classifier import (ClassifyConfig, fine_tune, predict_probabilities,
                                           set_trainable, set_trainable_lora, train_epoch)
from gpt.tokenizers import load_tokenizer
from gpt.training_step import make_adamw
from tinytorch import safetensors

ROOT = Path(__file__).resolve().parents[2]
HAM = "Ok lar... Joking wif u oni..."
SPAM = "WINNER!! You have been selected to receive a 900 prize reward! Call 09061701461."


@pytest.fixture(scope="module")
def tiny(shared_data):
    """(gpt2-tiny as a GPT, its tokenizer, its directory)."""
    directory = shared_data / "gpt2-tiny"
    return GPT.from_pretrained(directory), load_tokenizer(directory), directory


@pytest.fixture(scope="module")
def spam_examples(shared_data):
    return read_labeled_texts(shared_data / "sms_spam.tsv")


def classifier_on(tiny, seed=0):
    gpt, _, _ = tiny
    return GPTClassifier.from_gpt(gpt, SPAM_LABELS, seed=seed)


def small_splits(examples, tokenizer, n_train=32, n_other=8, seed=123):
    """A few balanced examples per split, encoded: (token id lists, labels)."""
    splits = balanced_splits(examples, SPAM_LABELS, seed)
    sizes = {"train": n_train, "validation": n_other, "test": n_other}
    return {name: encode_and_truncate(tokenizer, splits[name][:size], 128)
            for name, size in sizes.items()}


def gpt_command(*args, timeout=120):
    # One BLAS thread: on a busy 2-core machine OpenBLAS's two threads wait for each other on
    # gpt2-tiny's small matmuls; the numbers are the same.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gpt", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ----- the model -----------------------------------------------------------------------------

def test_parameter_names_are_hf_sequence_classification_names(tiny):
    names = [name for name, _ in classifier_on(tiny).named_parameters()]
    gpt_names = [name for name, _ in tiny[0].named_parameters()]
    assert names == gpt_names + ["score.weight"]
    assert all(name.startswith("transformer.") for name in gpt_names)
    assert classifier_on(tiny).score.weight.shape == (2, 64)


def test_a_text_gives_the_same_logits_alone_and_padded_in_a_longer_batch(tiny):
    model = classifier_on(tiny).eval()
    _, tokenizer, _ = tiny
    short = tokenizer.encode_ordinary(HAM)
    longer = tokenizer.encode_ordinary(SPAM + " " + SPAM)
    # the pad id (0, <|endoftext|>) inside the text: the lengths, not a search, find its end
    with_pad_id = short[:3] + [0] + short[3:]
    alone = model(np.array([short]), np.array([len(short)])).data                    # (1, 2)
    alone_with_pad_id = model(np.array([with_pad_id])).data
    idx, lengths = pad_batch([longer, short, with_pad_id], pad_id=0)
    assert idx.shape == (3, len(longer)) and lengths.tolist() == [len(longer), len(short),
                                                                   len(short) + 1]
    assert (idx[1, len(short):] == 0).all()
    batched = model(idx, lengths).data                                                # (3, 2)
    np.testing.assert_allclose(batched[1], alone[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(batched[2], alone_with_pad_id[0], rtol=0, atol=1e-6)
    # reading the padding position instead would give something else
    assert not np.allclose(model(idx).data[1], alone[0], atol=1e-3)


def test_lengths_must_fit_the_batch(tiny):
    model = classifier_on(tiny)
    idx = np.array([[5, 6, 7], [8, 9, 0]])
    with pytest.raises(ValueError, match="between 1 and"):
        model(idx, np.array([3, 4]))
    with pytest.raises(ValueError, match="one per row"):
        model(idx, np.array([3]))
    with pytest.raises(ValueError, match="no tokens"):
        pad_batch([[1, 2], []], pad_id=0)


# ----- what trains ---------------------------------------------------------------------------

EXPECTED_TRAINABLE = {
    "head": lambda name: name == "score.weight",
    "last-block": lambda name: name.startswith(("transformer.h.1.", "transformer.ln_f.",
                                                "score.")),
    "all": lambda name: True,
    "lora": lambda name: name.endswith(("lora_A", "lora_B")) or name == "score.weight",
}


@pytest.mark.parametrize("trainable", ["head", "last-block", "all", "lora"])
def test_frozen_parameters_get_no_gradient_and_no_optimizer_state(tiny, spam_examples,
                                                                  trainable):
    model = classifier_on(tiny)
    config = ClassifyConfig(model="m", data="d", out="o", batch_size=4)
    if trainable == "lora":
        params = set_trainable_lora(model, rank=2, alpha=4, seed=0)
    else:
        params = set_trainable(model, trainable)
    named = dict(model.named_parameters())
    expected = {name for name in named if EXPECTED_TRAINABLE[trainable](name)}
    assert {name for name, p in named.items() if p.requires_grad} == expected
    assert {id(p) for p in params} == {id(named[name]) for name in expected}

    optimizer = make_adamw(model, config.lr, config.weight_decay)
    split = small_splits(spam_examples, tiny[1], n_train=4)["train"]       # one batch
    train_epoch(model, optimizer, split, 0, config, np.random.default_rng(0))
    # Each step ends by zeroing the gradients: one more backward pass shows who gets one.
    F.cross_entropy(model(*pad_batch(split[0], pad_id=0)), split[1]).backward()
    for name, p in named.items():
        if name not in expected:
            assert p.grad is None, name
        elif name.endswith("lora_A"):
            assert p.grad is not None, name      # zero at first: B starts at zero
        else:
            assert p.grad is not None and np.abs(p.grad).sum() > 0, name
    assert {id(p) for p in optimizer.state} == {id(named[name]) for name in expected}


# ----- the data ------------------------------------------------------------------------------

def test_balancing_and_split_sizes_are_deterministic(spam_examples):
    assert len(spam_examples) == 4827 + 747
    assert spam_examples[0].line == 2 and spam_examples[0].label == 0
    splits = balanced_splits(spam_examples, SPAM_LABELS, seed=123)
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 1045, "validation": 149, "test": 300}
    every = [e for split in splits.values() for e in split]
    assert len({e.line for e in every}) == 1494
    assert np.bincount([e.label for e in every]).tolist() == [747, 747]
    again = balanced_splits(spam_examples, SPAM_LABELS, seed=123)
    assert all([e.line for e in splits[s]] == [e.line for e in again[s]] for s in splits)
    other = balanced_splits(spam_examples, SPAM_LABELS, seed=124)
    assert [e.line for e in other["test"]] != [e.line for e in splits["test"]]


def test_sequences_are_cut_to_the_context(spam_examples, tiny):
    _, tokenizer, _ = tiny
    longest = max(spam_examples, key=lambda e: len(e.text))
    (ids,), labels = encode_and_truncate(tokenizer, [longest], block_size=128)
    assert len(ids) == 128 and labels.tolist() == [longest.label]


@pytest.mark.parametrize("lines, line_number, message", [
    (["Label\tSMS", "ham\tfine", "spam no tab here"], 3, "expected a label, a tab and a text"),
    (["Label\tSMS", "hamm\tfine"], 2, "the label 'hamm' is not one of the known labels"),
    (["Label\tSMS", "ham\tfine", "spam\t  "], 3, "expected a text after the tab"),
    (["ham fine", "ham\tfine"], 1, "expected a header line"),
])
def test_a_bad_data_file_names_the_line_and_what_was_expected(tmp_path, lines, line_number,
                                                              message):
    path = write_lines(tmp_path / "bad.tsv", lines)
    with pytest.raises(ValueError, match=f"line {line_number}: {message}"):
        read_labeled_texts(path)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "bytes.tsv"
    path.write_bytes(b"Label\tSMS\nham\tok\nspam\tfree \xff prize\n")
    with pytest.raises(ValueError, match="line 3: not valid UTF-8"):
        read_labeled_texts(path)


def test_a_missing_class_or_an_empty_split_is_a_clear_error(tmp_path):
    only_ham = read_labeled_texts(write_lines(tmp_path / "ham.tsv", ["L\tT", "ham\ta", "ham\tb"]))
    with pytest.raises(ValueError, match="no 'spam' examples"):
        balanced_splits(only_ham, SPAM_LABELS, seed=0)
    few = read_labeled_texts(write_lines(tmp_path / "few.tsv",
                                         ["L\tT", "ham\ta", "spam\tb", "ham\tc", "spam\td"]))
    with pytest.raises(ValueError, match="the validation split is empty"):
        balanced_splits(few, SPAM_LABELS, seed=0)


# ----- training, saving ----------------------------------------------------------------------

def test_a_short_training_run_lowers_the_loss(tiny, spam_examples):
    model = classifier_on(tiny)
    config = ClassifyConfig(model="m", data="d", out="o", epochs=2, lr=1e-3)
    set_trainable(model, "all")
    history = fine_tune(model, small_splits(spam_examples, tiny[1]), 0, config,
                        log=lambda line: None)
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert history[-1]["train_accuracy"] > history[0]["train_accuracy"]
    assert {"validation_loss", "test_accuracy", "seconds"} <= history[-1].keys()


def test_a_saved_classifier_reloads_and_predicts_the_same(tiny, tmp_path):
    _, tokenizer, _ = tiny
    model = classifier_on(tiny, seed=5)
    set_trainable_lora(model, rank=2, alpha=4, seed=0)
    for name, p in model.named_parameters():      # a trained-looking LoRA correction
        if name.endswith("lora_B"):
            p.data[...] = np.random.default_rng(1).normal(0, 0.1, p.shape)
    texts = [HAM, SPAM, "see you at 5"]
    before = predict_probabilities(model, tokenizer, texts)
    from gpt.finetune.lora import merge_lora
    save_classifier(merge_lora(model), tokenizer, tmp_path / "classifier")

    loaded, loaded_tokenizer = load_classifier(tmp_path / "classifier")
    after = predict_probabilities(loaded, loaded_tokenizer, texts)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert loaded.label_names == SPAM_LABELS
    config = json.loads((tmp_path / "classifier" / "config.json").read_text())
    assert config["architectures"] == ["GPT2ForSequenceClassification"]
    assert config["num_labels"] == 2
    assert config["pad_token_id"] == config["bos_token_id"] == config["eos_token_id"] == 0
    assert config["id2label"] == {"0": "ham", "1": "spam"}
    assert config["label2id"] == {"ham": 0, "spam": 1}
    weights_path = tmp_path / "classifier" / "model.safetensors"
    weights = safetensors.load_file(weights_path)
    assert weights["score.weight"].shape == (2, 64)
    assert weights["transformer.h.0.attn.c_attn.weight"].shape == (64, 192)      # Conv1D
    assert not any("lora" in key for key in weights)
    assert safetensors.read_metadata(weights_path) == {"format": "pt"}
    assert (tmp_path / "classifier" / "vocab.json").is_file()
    assert not list(tmp_path.glob(".tmp*"))
    with pytest.raises(FileExistsError, match="already exists"):
        save_classifier(loaded, tokenizer, tmp_path / "classifier")


# ----- the command line ----------------------------------------------------------------------

def one_line_error(capsys, *argv):
    assert main([str(a) for a in argv]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_user_mistakes_are_one_line_errors(tiny, shared_data, tmp_path, capsys):
    _, _, model_dir = tiny
    data = shared_data / "sms_spam.tsv"
    flags = ["--model", model_dir, "--data", data, "--out", tmp_path / "new"]
    assert "missing.tsv" in one_line_error(capsys, "finetune-classify", "--model", model_dir,
                                           "--data", tmp_path / "missing.tsv", "--out",
                                           tmp_path / "o")
    assert "config.json" in one_line_error(capsys, "finetune-classify", "--model",
                                           tmp_path / "nowhere", "--data", data, "--out",
                                           tmp_path / "o")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("keep me")
    assert "already exists" in one_line_error(capsys, "finetune-classify", "--model",
                                              model_dir, "--data", data, "--out",
                                              tmp_path / "taken")
    assert (tmp_path / "taken" / "file.txt").read_text() == "keep me"
    # a count is checked by argparse, as for finetune-instruct: usage, then the error, exit 2
    with pytest.raises(SystemExit) as flag_error:
        main(["finetune-classify", *map(str, flags), "--epochs", "0"])
    assert flag_error.value.code == 2
    assert "argument --epochs: must be at least 1" in capsys.readouterr().err
    assert "lr" in one_line_error(capsys, "finetune-classify", *flags, "--lr", -1)
    assert "head, last-block, all" in one_line_error(capsys, "finetune-classify", *flags,
                                                     "--trainable", "everything")
    assert "--trainable" in one_line_error(capsys, "finetune-classify", *flags,
                                           "--trainable", "head", "--lora-rank", 4)
    assert "line 2" in one_line_error(capsys, "finetune-classify", "--model", model_dir,
                                      "--data", write_lines(tmp_path / "bad.tsv",
                                                            ["L\tT", "junk"]),
                                      "--out", tmp_path / "o")
    assert "not a classifier" in one_line_error(capsys, "classify", "--model", model_dir,
                                                "--text", "hi")
    assert not (tmp_path / "new").exists() and not (tmp_path / "o").exists()


def test_finetune_then_classify_from_the_command_line(spam_examples, shared_data, tmp_path):
    # a small balanced file: 20 of each class
    ham = [e for e in spam_examples if e.label == 0][:20]
    spam = [e for e in spam_examples if e.label == 1][:20]
    data = write_lines(tmp_path / "small.tsv", ["Label\tSMS"] + [
        f"{SPAM_LABELS[e.label]}\t{e.text}" for pair in zip(ham, spam) for e in pair])
    out = tmp_path / "classifier"
    run = gpt_command("finetune-classify", "--model", shared_data / "gpt2-tiny", "--data", data,
                      "--out", out, "--epochs", 1, "--trainable", "last-block")
    assert run.returncode == 0, run.stderr
    assert "20 ham, 20 spam; balanced and split: 28 train, 4 validation, 8 test" in run.stdout
    assert "epoch 1/1 | train loss" in run.stdout and "test loss" in run.stdout
    assert f"saved the classifier in {out}" in run.stdout
    result = gpt_command("classify", "--model", out, "--text", SPAM)
    assert result.returncode == 0, result.stderr
    label, probability = result.stdout.split()
    assert label in SPAM_LABELS and 0.5 <= float(probability) <= 1.0
    again = gpt_command("finetune-classify", "--model", shared_data / "gpt2-tiny", "--data",
                        data, "--out", out)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith("error: ") and "already exists" in again.stderr


def test_a_classifier_given_where_a_language_model_is_expected_says_so(tiny, shared_data,
                                                                     tmp_path, capsys):
    _, tokenizer, _ = tiny
    classifier = tmp_path / "classifier"
    save_classifier(classifier_on(tiny), tokenizer, classifier)
    with pytest.raises(ValueError, match="is a sequence classifier"):
        GPT.from_pretrained(classifier)
    instructions = tmp_path / "instructions.json"
    instructions.write_text(json.dumps([{"instruction": "a", "input": "", "output": "b"}] * 20))
    for command in (["sample", "--model", classifier],
                    ["attention", "--model", classifier, "--text", "hi"],
                    ["finetune-instruct", "--model", classifier, "--data", instructions,
                     "--out", tmp_path / "o"],
                    ["finetune-classify", "--model", classifier, "--data",
                     shared_data / "sms_spam.tsv", "--out", tmp_path / "o"]):
        line = one_line_error(capsys, *command)
        assert "GPT2ForSequenceClassification" in line and "not a language model" in line, line


@pytest.mark.parametrize("settings, message", [
    (dict(lr=float("nan")), r"--lr must be a number in \(0, inf\), got nan"),
    (dict(weight_decay=float("nan")), r"weight_decay must be a number in \[0, inf\), got nan"),
    (dict(grad_clip=float("nan")), "grad_clip must be a number in"),
    (dict(epochs=0), "--epochs must be at least 1"),
    (dict(batch_size=True), "--batch-size must be an integer, got True"),
    (dict(seed=-3), "--seed must be at least 0, got -3"),
    (dict(lora_rank=0), "--lora-rank must be at least 1"),
    (dict(lora_rank=2, lora_alpha=float("nan")), "lora_alpha must be a number in"),
])
def test_classify_settings_are_checked_and_named(settings, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ClassifyConfig(model="m", data="d", out="o", **settings)
