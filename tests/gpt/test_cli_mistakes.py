"""A careless user at the command line: every mistake ends in one clean line.

Each case is a command line (`python -m gpt ...` or `python -m bpe ...`) and the files it
reads, made from tiny model directories built once per session. A mistake must end with a
non-zero exit status, at most three lines on stderr, the first starting with "error:", no
traceback, no warning, and no temporary file named; a valid input must succeed with nothing
on stderr. Where it matters, a case also names what the message must mention (the file, the
flag, the value).

The commands run in-process (gpt.cli.main and bpe's main, stdout and stderr captured, warnings
shown as a real process shows them), so some 250 command lines take seconds; a few run again
as real subprocesses, to prove the two agree. Run this file as a script to print the cases by
category with how each ends (the table in issue 13's closing note):

    .venv/bin/python tests/gpt/test_cli_mistakes.py
"""
import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Every character the cases' texts use, so the character model can encode them all.
CORPUS = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
          "suffer\nThe slings and arrows of outrageous fortune.\nABCDEFGHIJKLMNOPQRSTUVWXYZ "
          "abcdefghijklmnopqrstuvwxyz 0123456789 !?.,;:'-\n") * 40
TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--batch-size", "4",
        "--eval-iters", "2", "--eval-interval", "100", "--log-interval", "100",
        "--sample-tokens", "5"]
HAM = ["Ok lar, see you at noon", "Where are you now", "I will call you later today",
       "Thanks for the lift home", "See you at the match", "What time is the film"]
SPAM = ["WINNER! Call 0900 now to win", "Free entry to win cash now", "You won a prize, call",
        "URGENT! Claim your reward now", "Txt WIN to 8007 for cash", "Win a free phone today"]
RECORD = {"instruction": "Name a colour.", "input": "", "output": "Red."}


@dataclass
class Case:
    """One command line and how it must end. `argv` may name {char}, {bpe}, {classifier},
    {data}, {spam}, {records} (the session's files) and {case} (a new directory of its own);
    `prepare(case_dir, workspace)` writes what the case reads first."""

    category: str
    name: str
    argv: list
    ok: bool = False                # True: a valid input, which must succeed
    mentions: tuple = ()            # what an error message must contain
    prepare: object = None


# ----- the session's files -------------------------------------------------------------------

@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("careless"))


def build_workspace(root):
    """Tiny models (a character one, a BPE one, a classifier) and good data files."""
    from gpt import GPT, GPTConfig
    from gpt.finetune.classifier import GPTClassifier, save_classifier
    from gpt.finetune.labeled_texts import SPAM_LABELS
    from gpt.data import make_tokenizer
    from gpt.tokenizers import load_tokenizer, save_tokenizer, token_ids_config
    from gpt.train import TrainConfig, train
    (root / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    # a run directory to resume (train_state.npz, metrics.jsonl), with a character vocabulary
    train(TrainConfig(data=str(root / "corpus.txt"), out=str(root / "char"), char=True,
                      block_size=16, n_layer=1, n_head=2, n_embd=16, batch_size=4, max_iters=2,
                      eval_iters=2, sample_tokens=0), log=lambda line: None)
    # a BPE model with <|endoftext|> and room for an instruction prompt (untrained: no run)
    tokenizer = make_tokenizer(CORPUS, vocab_size=300)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=256, n_layer=1, n_head=2,
                       n_embd=16)
    GPT(config, seed=0).save_pretrained(root / "bpe", token_ids_config(tokenizer))
    save_tokenizer(tokenizer, root / "bpe")
    body = GPT.from_pretrained(root / "char")
    save_classifier(GPTClassifier.from_gpt(body, SPAM_LABELS, seed=0),
                    load_tokenizer(root / "char"), root / "classifier")
    spam_lines = ["Label\tText"] + [f"ham\t{t}" for t in HAM] + [f"spam\t{t}" for t in SPAM]
    (root / "spam.tsv").write_text("\n".join(spam_lines + spam_lines[1:]) + "\n",
                                   encoding="utf-8")
    (root / "records.json").write_text(json.dumps([RECORD] * 20), encoding="utf-8")
    return root


# ----- running a command line ----------------------------------------------------------------

def run_command(argv, stdin=b""):
    """(exit status, stdout, stderr) of `argv` run in-process as the real program runs it: an
    exception that escapes is printed as its traceback, and warnings go to stderr."""
    from bpe.__main__ import main as bpe_main
    from gpt.cli import main as gpt_main
    program, *args = argv
    main = {"gpt": gpt_main, "bpe": bpe_main}[program]
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status = main(args)
            except SystemExit as exit_:
                status = exit_.code
            except BaseException:                     # what a real run would print
                traceback.print_exc()
                status = "traceback"
    finally:
        sys.stdin = old_stdin
    for warning in caught:
        err.write(warnings.formatwarning(warning.message, warning.category, warning.filename,
                                         warning.lineno))
    return status, out.getvalue(), err.getvalue()


def expand(case, workspace, case_dir):
    names = {"case": case_dir, **{name: workspace / file for name, file in (
        ("char", "char"), ("bpe", "bpe"), ("classifier", "classifier"),
        ("data", "corpus.txt"), ("spam", "spam.tsv"), ("records", "records.json"))}}
    return [(os.fsdecode(arg) if isinstance(arg, bytes) else str(arg)).format(**names)
            for arg in case.argv]


def run_case(case, workspace, case_dir):
    case_dir.mkdir(parents=True, exist_ok=True)
    if case.prepare:
        case.prepare(case_dir, workspace)
    cwd = os.getcwd()
    os.chdir(case_dir)                   # a run without --out writes runs/<date> here
    try:
        return run_command(expand(case, workspace, case_dir))
    finally:
        os.chdir(cwd)


def how_it_ended(case, status, out, err):
    """None if the case ended as it must, else what went wrong."""
    lines = err.strip().splitlines()
    if "Traceback" in err or status == "traceback":
        return "a traceback"
    if ".tmp-" in err + out:
        return "a temporary file named"
    if case.ok:
        if status != 0:
            return f"exit {status} for a valid input: {err.strip()}"
        return f"{len(lines)} lines on stderr for a valid input" if lines else None
    if status in (0, None):
        return "exit 0 for a mistake"
    if not lines or not lines[0].startswith("error:") or len(lines) > 3:
        return f"{len(lines)} lines on stderr"
    missing = [text for text in case.mentions if text not in err]
    return f"the message does not mention {missing}" if missing else None


# ----- preparing damaged files ---------------------------------------------------------------

def copy_of(source, change=None):
    """prepare: the session's `source` model copied into {case}/model, then `change(model)`."""
    def prepare(case_dir, workspace):
        shutil.copytree(workspace / source, case_dir / "model")
        if change:
            change(case_dir / "model")
    return prepare


def write(name, content, source=None):
    """prepare: {case}/`name` holding `content` (bytes or text); with `source`, inside a copy
    of that model ({case}/model/`name`)."""
    def prepare(case_dir, workspace):
        if source:
            shutil.copytree(workspace / source, case_dir / "model")
        path = case_dir / ("model" if source else "") / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return prepare


def edit_json(name, **changes):
    """A change to a model directory: entries of its JSON file `name` replaced (None: removed)."""
    def change(model):
        data = json.loads((model / name).read_text(encoding="utf-8"))
        data.update(changes)
        for key in [key for key, value in changes.items() if value is None]:
            del data[key]
        (model / name).write_text(json.dumps(data), encoding="utf-8")
    return change


def edit_weights(edit):
    """A change to a model directory: edit({name: array}) on its model.safetensors."""
    def change(model):
        from tinytorch import safetensors
        tensors = safetensors.load_file(model / "model.safetensors")
        edit(tensors)
        safetensors.save_file(tensors, model / "model.safetensors")
    return change


def edit_bytes(name, edit):
    """A change to a model directory: its file `name` replaced by edit(bytes)."""
    def change(model):
        (model / name).write_bytes(edit((model / name).read_bytes()))
    return change


def remove(name):
    def change(model):
        path = model / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return change


def safetensors_header(header, data=b""):
    """A model.safetensors made by hand from a header dict."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def set_weight(name, index, value):
    def edit(tensors):
        tensors[name][index] = value
    return edit


def npz_of(**arrays):
    """Bytes of an .npz file holding `arrays` (object arrays included)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def edit_state(edit):
    """A change to a run directory: edit(state) on its train_state.npz."""
    def change(model):
        import tinytorch as tt
        state = tt.load(model / "train_state.npz")
        edit(state)
        tt.save(state, model / "train_state.npz")
    return change


def with_state(**config_changes):
    return edit_state(lambda state: state["config"].update(config_changes))


def mkdir(name):
    def prepare(case_dir, workspace):
        (case_dir / name).mkdir()
        (case_dir / name / "keep.txt").write_text("mine")
    return prepare


# ----- the cases -----------------------------------------------------------------------------

def gpt(*args):
    return ["gpt", *args]


def train(*args):
    """A tiny training run on the session's corpus into {case}/run: fast when valid."""
    return gpt("train", "--data", "{data}", "--out", "{case}/run", "--char", "--block-size",
               "16", "--max-iters", "2", *TINY, *args)


def sample(*args, model="{char}"):
    return gpt("sample", "--model", model, "--max-new-tokens", "3", *args)


def classify_tune(*args, model="{char}", data="{spam}"):
    return gpt("finetune-classify", "--model", model, "--data", data, "--out", "{case}/out",
               "--epochs", "1", *args)


def instruct_tune(*args, model="{bpe}", data="{records}"):
    return gpt("finetune-instruct", "--model", model, "--data", data, "--out", "{case}/out",
               "--epochs", "1", "--subset", "2", *args)


def argument_cases():
    c = "argparse"
    return [
        Case(c, "no command", gpt(), mentions=("COMMAND", "--help")),
        Case(c, "unknown command", gpt("trian"), mentions=("invalid choice",)),
        Case(c, "unknown flag", gpt("train", "--layers", "2"), mentions=("--layers",)),
        Case(c, "a word for a count", gpt("train", "--n-layer", "zero"), mentions=("--n-layer",)),
        Case(c, "a fraction for a count", gpt("train", "--n-layer", "1.5")),
        Case(c, "an empty count", gpt("train", "--batch-size", "")),
        Case(c, "a word for a rate", gpt("train", "--lr", "fast"), mentions=("--lr",)),
        Case(c, "a flag without its value", gpt("train", "--lr")),
        Case(c, "two vocabularies", gpt("train", "--char", "--vocab-size", "300")),
        Case(c, "--resume takes no value", gpt("train", "--resume", "yes")),
        Case(c, "sample without --model", gpt("sample", "--prompt", "hi"), mentions=("--model",)),
        Case(c, "--model without its value", gpt("sample", "--model")),
        Case(c, "a word for --max-new-tokens", sample("--max-new-tokens", "ten")),
        Case(c, "--max-new-tokens 0", sample("--max-new-tokens", "0")),
        Case(c, "a fraction for --top-k", sample("--top-k", "1.5"), mentions=("--top-k",)),
        Case(c, "a word for --top-p", sample("--top-p", "half")),
        Case(c, "a word for --seed", sample("--seed", "lucky")),
        Case(c, "classify without --text", gpt("classify", "--model", "{classifier}")),
        Case(c, "a word for --layer", gpt("attention", "--model", "{char}", "--text", "To",
                                          "--layer", "one")),
        Case(c, "finetune-classify without --data and --out",
             gpt("finetune-classify", "--model", "{char}")),
        Case(c, "finetune-instruct without --out",
             gpt("finetune-instruct", "--model", "{bpe}", "--data", "{records}")),
        Case(c, "finetune-classify --epochs 0", classify_tune("--epochs", "0"),
             mentions=("--epochs",)),
        Case(c, "finetune-instruct --batch-size -1", instruct_tune("--batch-size", "-1")),
        Case(c, "finetune-classify --lora-rank 0", classify_tune("--lora-rank", "0")),
        Case(c, "finetune-instruct --subset 0", instruct_tune("--subset", "0")),
        Case(c, "bpe without a command", ["bpe"]),
        Case(c, "bpe train without flags", ["bpe", "train"]),
        Case(c, "bpe encode without --model", ["bpe", "encode"]),
        Case(c, "train --help", gpt("train", "--help"), ok=True),
        Case(c, "--help", gpt("--help"), ok=True),
    ]


def train_flag_cases():
    c = "train: numeric flags"
    cases = []
    for flag in ("--n-layer", "--n-head", "--n-embd", "--block-size", "--batch-size",
                 "--max-iters", "--grad-accum", "--eval-interval", "--eval-iters",
                 "--log-interval", "--lr-decay-iters"):
        for value in ("0", "-5"):
            cases.append(Case(c, f"{flag} {value}", train(flag, value), mentions=(flag,)))
    cases.append(Case(c, "--vocab-size 100", gpt("train", "--vocab-size", "100"),
                      mentions=("--vocab-size", "257")))
    cases.append(Case(c, "--vocab-size -1", gpt("train", "--vocab-size", "-1")))
    for flag, value in (("--warmup-iters", "-10"), ("--sample-tokens", "-5"), ("--seed", "-1")):
        cases.append(Case(c, f"{flag} {value}", train(flag, value), mentions=(flag, value)))
    for flag in ("--lr", "--min-lr", "--weight-decay", "--dropout"):
        for value in ("nan", "inf", "-inf", "-1", "1e400", "NaN"):
            cases.append(Case(c, f"{flag} {value}", train(flag, value), mentions=(flag,)))
    cases += [
        Case(c, "--lr 0", train("--lr", "0"), mentions=("--lr",)),
        Case(c, "--dropout 1", train("--dropout", "1"), mentions=("--dropout", "[0, 1)")),
        Case(c, "--min-lr above --lr", train("--lr", "1e-3", "--min-lr", "0.1"),
             mentions=("--min-lr",)),
        Case(c, "--n-embd not divisible by --n-head", train("--n-embd", "18", "--n-head", "4"),
             mentions=("n_embd=18", "n_head=4")),
        Case(c, "--batch-size 10000000 (the default model: 25 TB)",
             gpt("train", "--data", "{data}", "--char", "--batch-size", "10000000"),
             mentions=("TB of memory", "lower --batch-size")),
        Case(c, "--n-embd 1000000", train("--n-embd", "1000000", "--n-head", "1"),
             mentions=("of memory", "lower --n-embd")),
        Case(c, "--block-size 100000000", train("--block-size", "100000000"),
             mentions=("lower --block-size",)),
        Case(c, "--n-layer 1000000000", train("--n-layer", "1000000000"),
             mentions=("lower --n-layer",)),
        Case(c, "--batch-size with 400 digits", train("--batch-size", "9" * 400),
             mentions=("lower --batch-size",)),
        Case(c, "--n-head 1000000 --n-embd 1000000",
             train("--n-head", "1000000", "--n-embd", "1000000"), mentions=("of memory",)),
    ]
    for flags in (("--warmup-iters", "0"), ("--sample-tokens", "0"), ("--seed", "0"),
                  ("--seed", str(2 ** 70)), ("--dropout", "0.5"), ("--weight-decay", "0"),
                  ("--min-lr", "0"), ("--lr-decay-iters", "1"), ("--grad-accum", "2"),
                  ("--warmup-iters", "1000000"), ("--lr", "1e-2", "--min-lr", "1e-2"),
                  ("--eval-interval", "1", "--eval-iters", "1")):
        cases.append(Case(c, " ".join(flags) + " (valid)", train(*flags), ok=True))
    return cases


def sample_flag_cases():
    c = "sample and attention: flags"
    attention = ["gpt", "attention", "--model", "{char}", "--text", "To be"]
    cases = [Case(c, f"--temperature {value}", sample("--temperature", value),
                  mentions=("temperature",))
             for value in ("nan", "-1", "-inf", "-nan")]
    cases += [Case(c, f"--top-p {value}", sample("--top-p", value), mentions=("top_p",))
              for value in ("0", "-0.1", "1.5", "nan", "inf")]
    cases += [
        Case(c, "--top-k 0", sample("--top-k", "0"), mentions=("--top-k",)),
        Case(c, "--top-k -3", sample("--top-k", "-3")),
        Case(c, "--max-new-tokens -3", sample("--max-new-tokens", "-3")),
        Case(c, "--seed -1", sample("--seed", "-1"), mentions=("seed", "-1")),
        Case(c, "--num-beams 0", sample("--num-beams", "0"), mentions=("--num-beams",)),
        Case(c, "--num-beams with --temperature", sample("--num-beams", "2", "--temperature",
                                                         "0.5"), mentions=("--temperature",)),
        Case(c, "--num-beams 1 with --temperature", sample("--num-beams", "1", "--temperature",
                                                           "0.5"),
             mentions=("--num-beams 1", "greedy", "--temperature")),
        Case(c, "--num-beams 1 with --top-k", sample("--num-beams", "1", "--top-k", "3"),
             mentions=("--top-k",)),
        Case(c, "--num-beams with --top-p", sample("--num-beams", "2", "--top-p", "0.9"),
             mentions=("--top-p", "beam search")),
        Case(c, "--length-penalty without --num-beams", sample("--length-penalty", "0"),
             mentions=("--length-penalty", "--num-beams")),
        Case(c, "--early-stopping without --num-beams", sample("--early-stopping"),
             mentions=("--early-stopping", "--num-beams")),
        Case(c, "--length-penalty nan", sample("--num-beams", "2", "--length-penalty", "nan"),
             mentions=("length_penalty",)),
        Case(c, "--num-draft-tokens without --draft-model", sample("--num-draft-tokens", "2"),
             mentions=("--draft-model",)),
        Case(c, "--num-draft-tokens 0", sample("--draft-model", "{char}", "--num-draft-tokens",
                                               "0"), mentions=("--num-draft-tokens",)),
        Case(c, "--draft-model with --num-beams", sample("--num-beams", "2", "--draft-model",
                                                         "{char}"), mentions=("--draft-model",)),
        Case(c, "--draft-model that is missing", sample("--draft-model", "{case}/nowhere"),
             mentions=("nowhere",)),
        Case(c, "--draft-model of another vocabulary", sample("--draft-model", "{bpe}"),
             mentions=("vocabulary",)),
        Case(c, "--layer -1", attention + ["--layer", "-1"], mentions=("layer -1",)),
        Case(c, "--layer 99", attention + ["--layer", "99"], mentions=("layers 0 to 0",)),
        Case(c, "--head -1", attention + ["--head", "-1"], mentions=("head -1",)),
        Case(c, "--head 99", attention + ["--head", "99"], mentions=("heads 0 to 1",)),
        Case(c, "attention --text ''", ["gpt", "attention", "--model", "{char}", "--text", ""],
             mentions=("empty",)),
        Case(c, "attention --text longer than the context",
             ["gpt", "attention", "--model", "{char}", "--text", "To be, or not to be, that"],
             mentions=("context of block_size=16",)),
    ]
    for flags in (("--temperature", "0"), ("--temperature", "inf"), ("--temperature", "1e-300"),
                  ("--temperature", "1e400"), ("--top-k", "1000000"), ("--top-p", "1"),
                  ("--top-p", "1e-9"), ("--seed", str(2 ** 70)), ("--max-new-tokens", "40"),
                  ("--prompt", ""), ("--prompt", "To be, or not to be, that is the question"),
                  ("--num-beams", "1"), ("--num-beams", "3"),
                  ("--num-beams", "2", "--length-penalty", "0", "--early-stopping"),
                  ("--int8",), ("--int8", "--temperature", "0"), ("--draft-model", "{char}"),
                  ("--draft-model", "{char}", "--num-draft-tokens", "2", "--temperature", "0")):
        cases.append(Case(c, " ".join(flags) + " (valid)", sample(*flags), ok=True))
    cases += [
        Case(c, "attention --values (valid)", attention + ["--values"], ok=True),
        Case(c, "attention --svg (valid)", attention + ["--svg", "{case}/map.svg"], ok=True),
        Case(c, "sample from the BPE model with <|endoftext|> in the prompt (valid)",
             sample("--prompt", "To be<|endoftext|>or", model="{bpe}"), ok=True),
    ]
    return cases


def finetune_flag_cases():
    c = "fine-tuning: flags"
    cases = []
    for tune in (classify_tune, instruct_tune):
        command = tune()[1]
        for flag, value in (("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--lr", "0"),
                            ("--seed", "-1"), ("--batch-size", "0"), ("--epochs", "-2"),
                            ("--lora-rank", "-4")):
            cases.append(Case(c, f"{command} {flag} {value}", tune(flag, value),
                              mentions=(flag,)))
    cases += [
        Case(c, "finetune-classify --trainable everything",
             classify_tune("--trainable", "everything"), mentions=("head, last-block, all",)),
        Case(c, "finetune-classify --trainable with --lora-rank",
             classify_tune("--trainable", "head", "--lora-rank", "2"), mentions=("--trainable",)),
        Case(c, "finetune-classify (valid)", classify_tune("--batch-size", "8"), ok=True),
        Case(c, "finetune-classify --lora-rank 2 (valid)", classify_tune("--lora-rank", "2"),
             ok=True),
        Case(c, "finetune-instruct (valid)", instruct_tune(), ok=True),
        Case(c, "finetune-instruct --lora-rank 2 --mask-prompt (valid)",
             instruct_tune("--lora-rank", "2", "--mask-prompt"), ok=True),
    ]
    return cases


def model_directory_cases():
    c = "model directory: config.json and model.safetensors"
    model = "{case}/model"
    cases = [
        Case(c, "a missing directory", sample(model="{case}/nowhere"), mentions=("nowhere",)),
        Case(c, "quantize a missing directory", gpt("quantize", "--model", "{case}/nowhere"),
             mentions=("nowhere",)),
        Case(c, "sample --int8 from an empty directory", sample("--int8", model="{case}"),
             mentions=("config.json",)),
        Case(c, "a file, not a directory", sample(model="{data}"), mentions=("config.json",)),
        Case(c, "an empty directory", sample(model="{case}"), mentions=("config.json",)),
        Case(c, "only config.json", sample(model=model),
             prepare=copy_of("char", remove("model.safetensors")),
             mentions=("model.safetensors",)),
    ]
    for name, content, mention in (
            ("empty", b"", "Expecting value"), ("binary", b"\x89PNG\r\n\x1a\n\x00\x01", "UTF-8"),
            ("a list", b"[1, 2]", "JSON list"), ("a string", b'"gpt2"', "JSON str"),
            ("null", b"null", "JSON NoneType"), ("a number", b"42", "JSON int"),
            ("a trailing comma", b'{"n_embd": 16,}', "Expecting property name"),
            ("truncated", b'{"n_embd": 16, "n_la', "not valid JSON"),
            ("UTF-16", '{"n_embd": 16}'.encode("utf-16"), "UTF-8")):
        cases.append(Case(c, f"config.json {name}", sample(model=model),
                          prepare=write("config.json", content, source="char"),
                          mentions=("config.json", mention)))
    for name, changes, mention in (
            ("without n_embd", dict(n_embd=None), "no 'n_embd' entry"),
            ("without n_positions", dict(n_positions=None), "no 'n_positions' entry"),
            ("without vocab_size", dict(vocab_size=None), "no 'vocab_size' entry"),
            ("with n_embd as text", dict(n_embd="16"), "must be an integer, got '16'"),
            ("with vocab_size true", dict(vocab_size=True), "got True"),
            ("with n_layer 1.0", dict(n_layer=1.0), "got 1.0"),
            ("with n_head 0", dict(n_head=0), "at least 1"),
            ("with n_head 3", dict(n_head=3), "does not split evenly"),
            ("with n_layer -2", dict(n_layer=-2), "at least 1"),
            ("with layer_norm_epsilon -1", dict(layer_norm_epsilon=-1), "layer_norm_epsilon"),
            ("with layer_norm_epsilon text", dict(layer_norm_epsilon="x"), "layer_norm_epsilon"),
            ("with layer_norm_epsilon NaN", dict(layer_norm_epsilon=float("nan")), "got nan"),
            ("with n_positions Infinity", dict(n_positions=float("inf")), "got inf"),
            ("with a ReLU", dict(activation_function="relu"), "'relu'"),
            ("with n_inner 3", dict(n_inner=3), "n_inner=3"),
            ("untied", dict(tie_word_embeddings=False), "tied"),
            ("with architectures a string", dict(architectures="GPT2LMHeadModel"),
             "architectures"),
            ("with 12 layers for 1 layer's weights", dict(n_layer=12), "does not fit"),
            ("with n_positions 4 for 16 positions' weights", dict(n_positions=4),
             "does not fit"),
            ("with n_embd 10000000", dict(n_embd=10 ** 7), "float32 weights"),
            ("with vocab_size 1000000000000", dict(vocab_size=10 ** 12), "float32 weights")):
        cases.append(Case(c, f"config.json {name}", sample(model=model),
                          prepare=copy_of("char", edit_json("config.json", **changes)),
                          mentions=("config.json" if "weights" not in mention else "",
                                    mention)))
    weight = "transformer.h.0.mlp.c_fc.weight"
    for name, content, mention in (
            ("empty", b"", "shorter than"), ("3 bytes", b"abc", "shorter than"),
            ("text", b"this is not a safetensors file at all", "implausible"),
            ("a huge header length", struct.pack("<Q", 2 ** 63) + b"{}", "implausible"),
            ("a header that is not JSON", struct.pack("<Q", 6) + b"{oops}", "not valid JSON"),
            ("a header that is a list", safetensors_header([1]), "not a JSON object"),
            ("a bool in a shape", safetensors_header(
                {"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, bytes(4)),
             "shape [True]"),
            ("an overflowing shape", safetensors_header(
                {"w": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62, 4], "data_offsets": [0, 0]}}),
             "should start at 0"),
            ("an unknown dtype", safetensors_header(
                {"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}, bytes(1)), "'F8'"),
            ("a dtype that is a list", safetensors_header(
                {"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
             "dtype"),
            ("metadata that is not text", safetensors_header({"__metadata__": {"n": 1}}),
             "__metadata__")):
        cases.append(Case(c, f"model.safetensors {name}", sample(model=model),
                          prepare=write("model.safetensors", content, source="char"),
                          mentions=("model.safetensors", mention)))
    for name, change, mention in (
            ("truncated", edit_bytes("model.safetensors", lambda b: b[:len(b) // 2]),
             "truncated"),
            ("with a byte flipped in its header",
             edit_bytes("model.safetensors", lambda b: b[:20] + b"\x00" + b[21:]), "JSON"),
            ("longer than its header says",
             edit_bytes("model.safetensors", lambda b: b + bytes(8)), "longer than"),
            ("holding nan", edit_weights(set_weight(weight, (0, 0), np.nan)), weight),
            ("holding inf", edit_weights(set_weight(weight, (3, 1), -np.inf)), weight),
            ("without a tensor",
             edit_weights(lambda t: t.pop("transformer.ln_f.bias")), "transformer.ln_f.bias"),
            ("with a tensor of the wrong shape",
             edit_weights(lambda t: t.update({weight: np.zeros((3, 3), np.float32)})), weight),
            ("with an extra tensor",
             edit_weights(lambda t: t.update({"transformer.h.9.x": np.zeros(1, np.float32)})),
             "transformer.h.9.x")):
        cases.append(Case(c, f"model.safetensors {name}", sample(model=model),
                          prepare=copy_of("char", change), mentions=(mention,)))
    cases += [
        Case(c, "attention on a directory holding nan",
             ["gpt", "attention", "--model", model, "--text", "To"],
             prepare=copy_of("char", edit_weights(set_weight(weight, (1, 1), np.nan))),
             mentions=(weight,)),
        Case(c, "finetune-classify from a model holding nan", classify_tune(model=model),
             prepare=copy_of("char", edit_weights(set_weight(weight, (1, 1), np.nan))),
             mentions=(weight,)),
        Case(c, "finetune-instruct from a model holding nan", instruct_tune(model=model),
             prepare=copy_of("bpe", edit_weights(set_weight(weight, (1, 1), np.nan))),
             mentions=(weight,)),
        Case(c, "a copy of the model (valid)", sample(model=model), prepare=copy_of("char"),
             ok=True),
    ]
    return cases


def tokenizer_cases():
    c = "model directory: tokenizer files"
    model = "{case}/model"
    chars = "tokenizer.chars.json"
    cases = []
    for name, content, mention in (
            ("[]", "[]", "not a character vocabulary"), ("{}", "{}", "not a character vocabulary"),
            ("empty", "", "not valid JSON"), ("binary", b"\xff\xfe\x00\x01", "UTF-8"),
            ("without chars", '{"format": "tinygpt-chars", "version": 1}', "chars"),
            ("with chars a string", '{"format": "tinygpt-chars", "version": 1, "chars": "ab"}',
             "chars must be a list"),
            ("with no chars", '{"format": "tinygpt-chars", "version": 1, "chars": []}',
             "at least one"),
            ("with a repeated char",
             '{"format": "tinygpt-chars", "version": 1, "chars": ["a", "a"]}', "twice"),
            ("with a number for a char",
             '{"format": "tinygpt-chars", "version": 1, "chars": [1, 2]}', "single characters"),
            ("with a lone surrogate",
             '{"format": "tinygpt-chars", "version": 1, "chars": ["\\udc80"]}', "surrogates"),
            ("of version 9", '{"format": "tinygpt-chars", "version": 9, "chars": ["a"]}',
             "version 9"),
            ("with more characters than the model's vocabulary",
             json.dumps({"format": "tinygpt-chars", "version": 1,
                         "chars": [chr(0x4E00 + i) for i in range(500)]}),
             "belongs to another model")):
        cases.append(Case(c, f"{chars} {name}", sample(model=model),
                          prepare=write(chars, content, source="char"), mentions=(mention,)))
    cases += [
        Case(c, "no tokenizer at all", sample(model=model),
             prepare=copy_of("char", remove(chars)), mentions=("holds no tokenizer",)),
        Case(c, "the BPE model's <|endoftext|> contradicted by config.json",
             sample(model=model), prepare=copy_of("bpe", edit_json("config.json",
                                                                   eos_token_id=5)),
             mentions=("eos_token_id is 5", "not a special token")),
        Case(c, "a BPE model's tokenizer in a character model's place",
             sample(model=model), prepare=bpe_tokenizer_instead,
             mentions=("belongs to another model",)),
        Case(c, "a prompt with characters the vocabulary lacks", sample("--prompt", "Ωμέγα"),
             mentions=("not in this model's vocabulary",)),
        Case(c, "classify a text with characters the vocabulary lacks",
             gpt("classify", "--model", "{classifier}", "--text", "€€€"),
             mentions=("not in this model's vocabulary",)),
        Case(c, "tokenizer.bpe that is text", sample(model=model),
             prepare=copy_of("bpe", lambda m: (m / "tokenizer.bpe").write_text("hello"))),
        Case(c, "tokenizer.bpe that is empty", sample(model=model),
             prepare=copy_of("bpe", lambda m: (m / "tokenizer.bpe").write_bytes(b""))),
        Case(c, "vocab.json that is a list, alone", sample(model=model),
             prepare=copy_of("bpe", gpt2_files_only(b"[1, 2]"))),
        Case(c, "vocab.json that is not JSON, alone", sample(model=model),
             prepare=copy_of("bpe", gpt2_files_only(b"{oops"))),
    ]
    return cases


def bpe_tokenizer_instead(case_dir, workspace):
    """prepare: a character model's directory given the BPE model's tokenizer (300 ids; the
    model has an id for each of its 60-odd characters)."""
    copy_of("char", remove("tokenizer.chars.json"))(case_dir, workspace)
    shutil.copy(workspace / "bpe" / "tokenizer.bpe", case_dir / "model" / "tokenizer.bpe")


def gpt2_files_only(vocab):
    """A change: the tokenizer as GPT-2's files only, with vocab.json holding `vocab`."""
    def change(model):
        (model / "tokenizer.bpe").unlink()
        (model / "vocab.json").write_bytes(vocab)
    return change


def resume_cases():
    c = "train --resume: train_state.npz"
    run = "{case}/model"

    def resume(*args):
        return gpt("train", "--resume", "--out", run, "--data", "{data}", *args)
    cases = [
        Case(c, "--resume without --out", gpt("train", "--resume"), mentions=("--out",)),
        Case(c, "--resume into a missing directory",
             gpt("train", "--resume", "--out", "{case}/nowhere"), mentions=("train_state.npz",)),
        Case(c, "--resume into a model without a training state", resume(),
             prepare=copy_of("char", remove("train_state.npz")), mentions=("train_state.npz",)),
        Case(c, "--resume into a classifier", gpt("train", "--resume", "--out", "{classifier}"),
             mentions=("train_state.npz",)),
        Case(c, "train_state.npz a directory", resume(),
             prepare=copy_of("char", lambda m: (remove("train_state.npz")(m),
                                                (m / "train_state.npz").mkdir())),
             mentions=("train_state.npz",)),
    ]
    for name, change, mention in (
            ("empty", edit_bytes("train_state.npz", lambda b: b""), "empty"),
            ("truncated", edit_bytes("train_state.npz", lambda b: b[:len(b) // 2]),
             "truncated or damaged"),
            ("without its last bytes", edit_bytes("train_state.npz", lambda b: b[:-22]),
             "truncated or damaged"),
            ("with a flipped byte",
             edit_bytes("train_state.npz", lambda b: b[:2000] + bytes([b[2000] ^ 255])
                        + b[2001:]), "train_state.npz"),
            ("text", edit_bytes("train_state.npz", lambda b: b"not a zip file"),
             "not a .npz file"),
            ("a pickle", edit_bytes("train_state.npz", lambda b: b"\x80\x04\x95" + b"\x00" * 50),
             "not a .npz file"),
            ("holding an object array", edit_bytes("train_state.npz", lambda b: npz_of(
                config=np.array([{"n_layer": 1}], dtype=object))), "not a plain array"),
            ("without its config", edit_bytes("train_state.npz", lambda b: npz_of(
                iteration=np.array(3))), "settings"),
            ("with an unknown setting", with_state(n_layers=3), "settings"),
            ("with a setting of the wrong type", with_state(n_layer="one"), "--n-layer"),
            ("with a setting out of range", with_state(lr=-1.0), "--lr"),
            ("without the weights' fingerprint",
             edit_state(lambda state: state.pop("weights_sha256")), "weights_sha256"),
            ("for other weights", edit_weights(set_weight("transformer.ln_f.bias", 0, 0.5)),
             "does not match")):
        cases.append(Case(c, f"train_state.npz {name}", resume(), prepare=copy_of("char", change),
                          mentions=(mention,)))
    cases += [
        Case(c, "--resume with another --n-layer", resume("--n-layer", "2"),
             prepare=copy_of("char"), mentions=("n-layer",)),
        Case(c, "--resume on other data", gpt("train", "--resume", "--out", run, "--data",
                                              "{case}/other.txt"),
             prepare=lambda d, w: (copy_of("char")(d, w),
                                   (d / "other.txt").write_text(CORPUS[::-1])),
             mentions=("training text",)),
        Case(c, "--resume with --lr nan", resume("--lr", "nan"), prepare=copy_of("char"),
             mentions=("--lr",)),
        Case(c, "--resume --max-iters below the run's iterations", resume("--max-iters", "1"),
             prepare=copy_of("char"), mentions=("iteration 2", "--max-iters 1")),
        Case(c, "--resume --max-iters 3 (valid)", resume("--max-iters", "3"),
             prepare=copy_of("char"), ok=True),
        Case(c, "--resume of a finished run (valid)", resume(), prepare=copy_of("char"),
             ok=True),
    ]
    return cases


def data_file_cases():
    c = "data files"
    cases = [
        Case(c, "train --data missing", train() + ["--data", "{case}/missing.txt"],
             mentions=("missing.txt",)),
        Case(c, "train --data a directory", train() + ["--data", "{case}"],
             mentions=("Is a directory",)),
        Case(c, "train --data empty", train() + ["--data", "{case}/empty.txt"],
             prepare=write("empty.txt", ""), mentions=("empty.txt is empty",)),
        Case(c, "train --data binary", train() + ["--data", "{case}/x.bin"],
             prepare=write("x.bin", bytes(range(256)) * 4), mentions=("UTF-8", "offset 128")),
        Case(c, "train --data shorter than a window", train() + ["--data", "{case}/short.txt"],
             prepare=write("short.txt", "tiny text"), mentions=("block_size + 1",)),
        Case(c, "train --data a BPE run on empty text",
             gpt("train", "--data", "{case}/empty.txt", "--out", "{case}/run", "--max-iters",
                 "2", *TINY), prepare=write("empty.txt", ""), mentions=("is empty",)),
        Case(c, "train --data of one repeated character (valid)",
             train() + ["--data", "{case}/a.txt"], prepare=write("a.txt", "a" * 500), ok=True),
    ]
    spam = "{case}/spam.tsv"
    for name, content, mention in (
            ("empty", "", "header"), ("binary", b"Label\tText\nham\t\xff\xfe\n", "UTF-8"),
            ("a header only", "Label\tText\n", "no 'ham' examples"),
            ("without a header", "ham Ok\nspam Win\n", "header"),
            ("with an unknown label", "Label\tText\nham\tOk lar\neggs\tWin now\n", "'eggs'"),
            ("with a line without a tab", "Label\tText\nham\tOk lar\nspam Win now\n", "line 3"),
            ("with an empty text", "Label\tText\nham\tOk lar\nspam\t \n", "line 3"),
            ("with one class only", "Label\tText\n" + "ham\tOk lar\n" * 20, "no 'spam'"),
            ("with too few examples", "Label\tText\nham\tOk lar\nspam\tWin now\n", "split"),
            ("holding JSON", json.dumps([RECORD] * 5), "header"),
            ("with CRLF line ends (valid)",
             "Label\tText\r\n" + "".join(f"ham\t{t}\r\nspam\t{s}\r\n"
                                         for t, s in zip(HAM, SPAM)) * 2, None)):
        cases.append(Case(c, f"finetune-classify --data {name}", classify_tune(data=spam),
                          prepare=write("spam.tsv", content), ok=mention is None,
                          mentions=(mention,) if mention else ()))
    cases += [
        Case(c, "finetune-classify --data missing", classify_tune(data="{case}/nope.tsv"),
             mentions=("nope.tsv",)),
        Case(c, "finetune-classify --data a directory", classify_tune(data="{case}"),
             mentions=("Is a directory",)),
        Case(c, "finetune-instruct --data missing", instruct_tune(data="{case}/nope.json"),
             mentions=("nope.json",)),
    ]
    records = "{case}/records.json"
    long_record = {**RECORD, "output": "word " * 200}
    for name, content, mention in (
            ("empty", "", "not valid JSON"), ("binary", b"\x00\xff", "UTF-8"),
            ("an object", "{}", "JSON list"), ("an empty list", "[]", "split is empty"),
            ("a list of numbers", "[1, 2, 3]", "entry 0"),
            ("without output", json.dumps([{"instruction": "a", "input": ""}] * 20),
             "'output'"),
            ("with a number for input", json.dumps([{**RECORD, "input": 3}] * 20), "'input'"),
            ("with too few records", json.dumps([RECORD] * 3), "split is empty"),
            ("with records too long for the context", json.dumps([long_record] * 20),
             "context"),
            ("holding TSV", "Label\tText\nham\tOk\n", "not valid JSON"),
            ("with a trailing comma", json.dumps([RECORD] * 20)[:-1] + ",]", "line 1")):
        cases.append(Case(c, f"finetune-instruct --data {name}", instruct_tune(data=records),
                          prepare=write("records.json", content), mentions=(mention,)))
    return cases


def mismatch_cases():
    c = "mismatched directories"
    return [
        Case(c, "sample from a classifier", sample(model="{classifier}"),
             mentions=("sequence classifier",)),
        Case(c, "attention on a classifier",
             ["gpt", "attention", "--model", "{classifier}", "--text", "To"],
             mentions=("sequence classifier",)),
        Case(c, "finetune-classify from a classifier", classify_tune(model="{classifier}"),
             mentions=("sequence classifier",)),
        Case(c, "finetune-instruct from a classifier", instruct_tune(model="{classifier}"),
             mentions=("sequence classifier",)),
        Case(c, "classify with a language model",
             gpt("classify", "--model", "{char}", "--text", "To"), mentions=("not a classifier",)),
        Case(c, "finetune-instruct from a model without <|endoftext|>",
             instruct_tune(model="{char}"), mentions=("<|endoftext|>",)),
        Case(c, "sample --model a data file", sample(model="{records}"),
             mentions=("config.json",)),
        Case(c, "finetune-classify --data a model directory", classify_tune(data="{char}"),
             mentions=("Is a directory",)),
        Case(c, "classify an empty text", gpt("classify", "--model", "{classifier}", "--text",
                                              ""), mentions=("nothing to classify",)),
        Case(c, "classify with a classifier whose labels are not numbered",
             gpt("classify", "--model", "{case}/model", "--text", "Win"),
             prepare=copy_of("classifier", edit_json("config.json",
                                                     id2label={"1": "ham", "2": "spam"})),
             mentions=("id2label",)),
        Case(c, "classify with a classifier that lost its head",
             gpt("classify", "--model", "{case}/model", "--text", "Win"),
             prepare=copy_of("classifier", edit_weights(lambda t: t.pop("score.weight"))),
             mentions=("score.weight",)),
        Case(c, "--resume into a run that lost its tokenizer",
             gpt("train", "--resume", "--out", "{case}/model", "--data", "{data}"),
             prepare=copy_of("char", remove("tokenizer.chars.json")),
             mentions=("holds no tokenizer",)),
        Case(c, "classify (valid)", gpt("classify", "--model", "{classifier}", "--text",
                                        "Win cash now"), ok=True),
    ]


def output_cases():
    c = "output paths"
    return [
        Case(c, "train --out a directory with files", train() + ["--out", "{case}/taken"],
             prepare=mkdir("taken"), mentions=("already exists", "--out")),
        Case(c, "train --out a file", train() + ["--out", "{data}"],
             mentions=("already exists",)),
        Case(c, "train --out inside a file", train() + ["--out", "{data}/run"]),
        Case(c, "finetune-classify --out a directory with files",
             gpt("finetune-classify", "--model", "{char}", "--data", "{spam}", "--out",
                 "{case}/taken"), prepare=mkdir("taken"), mentions=("already exists",)),
        Case(c, "finetune-instruct --out a directory with files",
             gpt("finetune-instruct", "--model", "{bpe}", "--data", "{records}", "--out",
                 "{case}/taken"), prepare=mkdir("taken"), mentions=("already exists",)),
        Case(c, "finetune-instruct --out a file",
             gpt("finetune-instruct", "--model", "{bpe}", "--data", "{records}", "--out",
                 "{records}"), mentions=("already exists",)),
        Case(c, "train --out a new nested directory (valid)",
             train() + ["--out", "{case}/a/b/c"], ok=True),
        Case(c, "train without --out: runs/<date-time> (valid)",
             gpt("train", "--data", "{data}", "--char", "--block-size", "16", "--max-iters",
                 "1", *TINY), ok=True),
    ]


def non_utf8_cases():
    c = "arguments that are not UTF-8"
    return [
        Case(c, "sample --prompt", sample("--prompt", b"To \xff be"),
             mentions=("--prompt", "byte 0xff at offset 3")),
        Case(c, "sample --prompt of a cut character", sample("--prompt", "é".encode()[:1]),
             mentions=("--prompt", "0xc3")),
        Case(c, "classify --text", gpt("classify", "--model", "{classifier}", "--text",
                                       b"\xe9t\xe9"), mentions=("--text", "0xe9")),
        Case(c, "attention --text", ["gpt", "attention", "--model", "{char}", "--text",
                                     b"\x80"], mentions=("--text",)),
        Case(c, "train --data a missing file with such a name",
             train() + ["--data", b"{case}/\xff.txt"], mentions=(".txt",)),
        Case(c, "train --out a directory with such a name (valid)",
             train() + ["--out", b"{case}/r\xffn"], ok=True),
    ]


def lens_cases():
    c = "lens"
    weight = "transformer.h.0.mlp.c_fc.weight"

    def lens(*args, model="{char}", text="To be"):
        return gpt("lens", "--model", model, "--text", text, *args)

    return [
        Case(c, "lens without --text", gpt("lens", "--model", "{char}"), mentions=("--text",)),
        Case(c, "lens without --model", gpt("lens", "--text", "To"), mentions=("--model",)),
        Case(c, "--top 0", lens("--top", "0"), mentions=("--top",)),
        Case(c, "--top -2", lens("--top", "-2"), mentions=("--top",)),
        Case(c, "a word for --top", lens("--top", "five"), mentions=("--top",)),
        Case(c, "--text ''", lens(text=""), mentions=("empty",)),
        Case(c, "--text longer than the context", lens(text="To be, or not to be, that"),
             mentions=("context of block_size=16",)),
        Case(c, "--text with a character the model never saw", lens(text="To be \u00e9"),
             mentions=("\u00e9",)),
        Case(c, "--text not UTF-8", lens(text=b"To \xff"), mentions=("--text", "0xff")),
        Case(c, "a missing directory", lens(model="{case}/nowhere"), mentions=("nowhere",)),
        Case(c, "a data file for --model", lens(model="{data}"), mentions=("config.json",)),
        Case(c, "a classifier", lens(model="{classifier}"), mentions=("sequence classifier",)),
        Case(c, "a directory holding nan", lens(model="{case}/model"),
             prepare=copy_of("char", edit_weights(set_weight(weight, (1, 1), np.nan))),
             mentions=(weight,)),
        Case(c, "lens (valid)", lens(), ok=True),
        Case(c, "--top 1 (valid)", lens("--top", "1"), ok=True),
        Case(c, "--top larger than the vocabulary (valid)", lens("--top", "1000000"), ok=True),
        Case(c, "one character (valid)", lens(text="T"), ok=True),
        Case(c, "the BPE model with <|endoftext|> in the text (valid)",
             lens(model="{bpe}", text="To be<|endoftext|>or"), ok=True),
    ]


def explain_cases():
    c = "explain: where to listen"
    # 192.0.2.1 is kept for documentation (RFC 5737): no machine has it, so nothing is served
    return [
        Case(c, "--host this machine does not have",
             gpt("explain", "--model", "{char}", "--host", "192.0.2.1", "--port", "0"),
             mentions=("192.0.2.1", "--host")),
        Case(c, "--port 70000", gpt("explain", "--model", "{char}", "--port", "70000"),
             mentions=("--port", "70000")),
    ]


def bpe_cases():
    c = "python -m bpe"
    return [
        Case(c, "train --data missing", ["bpe", "train", "--data", "{case}/x.txt",
                                         "--vocab-size", "300", "--out", "{case}/t.bpe"],
             mentions=("x.txt",)),
        Case(c, "train --data binary", ["bpe", "train", "--data", "{case}/x.bin",
                                        "--vocab-size", "300", "--out", "{case}/t.bpe"],
             prepare=write("x.bin", b"ok\xff"), mentions=("UTF-8",)),
        Case(c, "train --vocab-size 10", ["bpe", "train", "--data", "{data}", "--vocab-size",
                                          "10", "--out", "{case}/t.bpe"]),
        Case(c, "train --vocab-size ten", ["bpe", "train", "--data", "{data}", "--vocab-size",
                                           "ten", "--out", "{case}/t.bpe"]),
        Case(c, "train --out in a missing directory",
             ["bpe", "train", "--data", "{data}", "--vocab-size", "300", "--out",
              "{case}/no/t.bpe"]),
        Case(c, "encode --model missing", ["bpe", "encode", "--model", "{case}/t.bpe"]),
        Case(c, "encode --model a text file", ["bpe", "encode", "--model", "{data}"]),
        Case(c, "show --model an empty file", ["bpe", "show", "--model", "{case}/e.bpe"],
             prepare=write("e.bpe", "")),
        Case(c, "show --model a checkpoint's tokenizer (valid)",
             ["bpe", "show", "--model", "{bpe}/tokenizer.bpe"], ok=True),
        Case(c, "train (valid)", ["bpe", "train", "--data", "{data}", "--vocab-size", "270",
                                  "--out", "{case}/t.bpe"], ok=True),
    ]


CASES = (argument_cases() + train_flag_cases() + sample_flag_cases() + finetune_flag_cases()
         + model_directory_cases() + tokenizer_cases() + resume_cases() + data_file_cases()
         + mismatch_cases() + output_cases() + non_utf8_cases() + bpe_cases() + lens_cases()
         + explain_cases())


def case_id(case):
    return f"{case.category}: {case.name}"


def test_the_cases_are_many_and_distinct():
    assert len({case_id(case) for case in CASES}) == len(CASES) > 250


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_careless_command_line_ends_cleanly(case, workspace, tmp_path):
    status, out, err = run_case(case, workspace, tmp_path / "case")
    problem = how_it_ended(case, status, out, err)
    assert problem is None, f"{problem}\nexit {status}\nstderr:\n{err}"


# ----- the same in a real process ------------------------------------------------------------

PARITY = ["argparse: a word for a count", "sample and attention: flags: --temperature nan",
          "model directory: config.json and model.safetensors: config.json a list",
          "arguments that are not UTF-8: sample --prompt", "data files: train --data binary",
          "train --resume: train_state.npz: train_state.npz truncated",
          "train: numeric flags: --seed 0 (valid)"]


@pytest.mark.parametrize("name", PARITY)
def test_a_real_process_ends_as_the_in_process_run_does(name, workspace, tmp_path):
    (case,) = [case for case in CASES if case_id(case) == name]
    in_process = run_case(case, workspace, tmp_path / "in")
    (tmp_path / "real").mkdir()
    if case.prepare:
        case.prepare(tmp_path / "real", workspace)
    argv = [os.fsencode(arg) for arg in expand(case, workspace, tmp_path / "real")]
    real = subprocess.run([sys.executable, "-m", *argv], cwd=tmp_path / "real",
                          capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    stderr = real.stderr.decode("utf-8", "surrogateescape")
    assert real.returncode == in_process[0]
    assert stderr == in_process[2].replace(str(tmp_path / "in"), str(tmp_path / "real"))


# ----- the table for the closing note ---------------------------------------------------------

def print_table():
    """Every case by category: how many, and how the mistakes end."""
    import tempfile
    root = Path(tempfile.mkdtemp(prefix="careless-"))
    (root / "workspace").mkdir()
    workspace = build_workspace(root / "workspace")
    by_category, failures = {}, []
    for number, case in enumerate(CASES):
        status, out, err = run_case(case, workspace, root / f"case{number}")
        problem = how_it_ended(case, status, out, err)
        outcome = "ok" if case.ok else "one line" if problem is None else problem
        by_category.setdefault(case.category, Counter())[outcome] += 1
        if problem:
            failures.append((case_id(case), problem))
        print(f"{case_id(case)}\n    exit {status}: {err.strip() or out.strip()[:100]}")
    print("\n| category | inputs | how they end |\n|---|---|---|")
    for category, outcomes in by_category.items():
        ends = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
        print(f"| {category} | {sum(outcomes.values())} | {ends} |")
    print(f"\n{len(CASES)} inputs; {len(failures)} did not end as they must")
    for name, problem in failures:
        print(f"  {name}: {problem}")
    shutil.rmtree(root)


if __name__ == "__main__":
    print_table()
