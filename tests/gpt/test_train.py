"""The training loop: it learns, it resumes exactly, it writes what it promises."""
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from gpt import GPT
from gpt.train import TrainConfig, learning_rate, train

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 40


def tiny_config(tmp_path, name, **overrides):
    data = tmp_path / "corpus.txt"
    data.write_text(TEXT, encoding="utf-8")
    settings = dict(data=str(data), out=str(tmp_path / name), char=True, n_layer=2, n_head=2,
                    n_embd=16, block_size=16, batch_size=4, max_iters=12, warmup_iters=2,
                    eval_interval=5, eval_iters=2, log_interval=1, sample_tokens=0, seed=7,
                    lr=3e-3, min_lr=3e-4)
    settings.update(overrides)
    return TrainConfig(**settings)


def quiet(*_):
    pass


def test_resumed_run_gives_exactly_the_losses_of_an_uninterrupted_one(tmp_path):
    settings = dict(dropout=0.1, grad_accum=2, lr_decay_iters=12)
    whole = train(tiny_config(tmp_path, "whole", **settings), log=quiet)
    # stop at 7, which is not an evaluation iteration (those are 5 and 10), then resume to 12
    train(tiny_config(tmp_path, "parts", max_iters=7, **settings), log=quiet)
    resumed = train(tiny_config(tmp_path, "parts", max_iters=12, **settings), resume=True,
                    log=quiet)
    assert sorted(resumed["losses"]) == list(range(8, 13))
    for it in range(8, 13):
        assert resumed["losses"][it] == whole["losses"][it], it
    assert resumed["val_loss"] == whole["val_loss"]
    logged = [json.loads(line) for line in (tmp_path / "parts" / "metrics.jsonl").open()]
    assert [e["iter"] for e in logged if "loss" in e] == list(range(1, 13))


def test_training_lowers_the_loss_and_writes_a_complete_checkpoint(tmp_path):
    result = train(tiny_config(tmp_path, "run", max_iters=60, eval_interval=30, lr=1e-2,
                               min_lr=1e-3, sample_tokens=20), log=quiet)
    losses = result["losses"]
    # from about ln(30) = 3.4 (uniform over the characters) to well below
    assert np.mean([losses[i] for i in range(51, 61)]) < 0.7 * np.mean([losses[i] for i in range(1, 6)])
    out = tmp_path / "run"
    for name in ("config.json", "model.safetensors", "tokenizer.chars.json", "train_state.npz",
                 "metrics.jsonl", "loss.svg"):
        assert (out / name).is_file(), name
    svg = ET.fromstring((out / "loss.svg").read_text())
    assert {p.get("class") for p in svg.iter("{http://www.w3.org/2000/svg}path")} == {"train", "val"}
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    evals = [m for m in metrics if "val_loss" in m]
    assert [m["iter"] for m in evals] == [30, 60] and evals[-1]["val_batches"] >= 400
    steps = [m for m in metrics if "loss" in m]
    assert {"lr", "ms_per_iter", "tokens_per_sec"} <= steps[0].keys()
    assert result["val_loss"] == evals[-1]["val_loss"]
    assert len(result["sample"]) == 20
    found, total = result["words_found"]
    assert 0 <= found <= total
    model = GPT.from_pretrained(out)
    assert model.config.n_layer == 2 and model.config.vocab_size == len(set(TEXT))


def test_every_evaluation_sees_the_same_batches(tmp_path):
    # lr 0: the weights never change, so equal batches give equal losses
    result = train(tiny_config(tmp_path, "frozen", lr=1e-12, min_lr=0.0, max_iters=10,
                               eval_interval=5), log=quiet)
    out = tmp_path / "frozen"
    evals = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    train_losses = [m["train_loss_eval"] for m in evals if "val_loss" in m]
    assert train_losses[0] == pytest.approx(train_losses[1], abs=1e-5)
    assert result["val_loss"] > 0


def test_existing_output_is_never_overwritten(tmp_path):
    train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)


def test_incompatible_resume_is_refused(tmp_path):
    train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)
    with pytest.raises(ValueError, match="n-embd is 32 but the checkpoint has 16"):
        train(tiny_config(tmp_path, "run", max_iters=4, n_embd=32), resume=True, log=quiet)
    config = tiny_config(tmp_path, "run", max_iters=4)
    (tmp_path / "corpus.txt").write_text(TEXT.replace("speak", "spoke"), encoding="utf-8")
    with pytest.raises(ValueError, match="not the one this run started with"):
        train(config, resume=True, log=quiet)


def test_a_resume_with_nothing_to_train_says_so(tmp_path):
    config = tiny_config(tmp_path, "run", max_iters=4)
    train(config, log=quiet)
    out = tmp_path / "run"
    lines = []
    again = train(config, resume=True, log=lines.append)     # finished: it may sample again
    assert again["losses"] == {}
    assert f"{out} is already at iteration 4 of --max-iters 4: nothing to train" in lines
    files = {path.name: path.read_bytes() for path in out.iterdir()}
    # fewer iterations than the run has done is a mistake, not a finished run
    with pytest.raises(ValueError, match=f"^{out} is already at iteration 4 of --max-iters 2: "
                                         f"nothing to train; give a --max-iters above 4"):
        train(tiny_config(tmp_path, "run", max_iters=2), resume=True, log=quiet)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == files


def test_weights_that_do_not_match_the_training_state_are_detected(tmp_path):
    train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)
    weights = tmp_path / "run" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="does not match train_state.npz .*different saves"):
        train(tiny_config(tmp_path, "run", max_iters=4), resume=True, log=quiet)


def test_learning_rate_schedule():
    config = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_iters=100, max_iters=2000)
    assert learning_rate(config, 0) < learning_rate(config, 50) < learning_rate(config, 99)
    assert learning_rate(config, 100) == pytest.approx(1e-3)
    assert learning_rate(config, 1050) == pytest.approx(5.5e-4)
    assert learning_rate(config, 2000) == pytest.approx(1e-4)


def test_a_short_run_warms_up_for_a_twentieth_of_it_and_reaches_its_peak():
    assert TrainConfig().warmup == 100                       # nanoGPT's setting is unchanged
    assert TrainConfig(max_iters=5000).warmup == 100
    short = TrainConfig(max_iters=50)
    assert short.warmup == 2
    assert max(learning_rate(short, it) for it in range(50)) == pytest.approx(short.lr)
    assert short.schedule_warnings() == []
    assert TrainConfig(max_iters=50, warmup_iters=7).warmup == 7     # given: kept as it is


def test_a_warmup_longer_than_the_run_is_said():
    (line,) = TrainConfig(max_iters=50, warmup_iters=100).schedule_warnings()
    assert line == ("warning: --warmup-iters 100 is not below --max-iters 50: the learning "
                    "rate never reaches --lr 0.001 (at most 4.95e-04)")


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="n-layer must be at least 1"):
        TrainConfig(n_layer=0)
    with pytest.raises(ValueError, match="vocab-size must be at least 257"):
        TrainConfig(vocab_size=100)
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(dropout=1.0)


@pytest.mark.parametrize("settings, message", [
    (dict(warmup_iters=-10), "--warmup-iters must be at least 0, got -10"),
    (dict(sample_tokens=-5), "--sample-tokens must be at least 0, got -5"),
    (dict(seed=-1), "--seed must be at least 0, got -1"),
    (dict(batch_size=0), "--batch-size must be at least 1, got 0"),
    (dict(eval_iters=0), "--eval-iters must be at least 1"),
    (dict(lr_decay_iters=0), "--lr-decay-iters must be at least 1"),
    (dict(n_layer=True), "--n-layer must be an integer, got True"),
    (dict(max_iters=2.5), "--max-iters must be an integer, got 2.5"),
    (dict(lr=float("nan")), r"--lr must be a number in \(0, inf\), got nan"),
    (dict(lr=float("inf")), r"--lr must be a number in \(0, inf\), got inf"),
    (dict(lr=0.0), r"--lr must be a number in \(0, inf\), got 0.0"),
    (dict(min_lr=float("nan")), r"--min-lr must be a number in \[0, 0.001\], got nan"),
    (dict(min_lr=0.01), r"--min-lr must be a number in \[0, 0.001\], got 0.01"),
    (dict(weight_decay=float("nan")), r"--weight-decay must be a number in \[0, inf\), got nan"),
    (dict(weight_decay=-0.1), "--weight-decay must be a number in"),
    (dict(weight_decay=float("inf")), "--weight-decay must be a number in"),
    (dict(dropout=float("nan")), "--dropout must be a number in"),
    (dict(beta2=1.0), r"beta2 must be a number in \[0, 1\)"),
    (dict(grad_clip=0.0), r"grad_clip must be a number in \(0, inf\]"),
    (dict(char=1), "--char must be True or False"),
    (dict(n_embd=130), "n_embd=130 does not split evenly into n_head=4"),
])
def test_every_setting_is_checked_before_any_work_and_named_as_its_flag(settings, message):
    with pytest.raises((TypeError, ValueError), match=message):
        TrainConfig(**settings)


def test_valid_edge_settings_are_accepted():
    config = TrainConfig(warmup_iters=0, sample_tokens=0, seed=0, grad_clip=float("inf"),
                         min_lr=0.0, weight_decay=0.0, char=True, vocab_size=1)
    assert config.warmup_iters == 0 and config.grad_clip == float("inf")


def test_words_found_counts_words_of_three_or_more_letters():
    from gpt.train import words_found
    assert words_found("the cat sat on xyzzy mat, épée", "the cat sat on a mat; épée") == (5, 6)


def test_a_bpe_run_on_documents_separated_by_end_of_text(tmp_path):
    # gpt train on a corpus of documents joined by <|endoftext|>, asking for more merges
    # than the text holds: the run says so in its log and trains on the smaller vocabulary
    documents = TEXT.split("\n\n")
    config = tiny_config(tmp_path, "run", char=False, vocab_size=5000, max_iters=2)
    with open(config.data, "w", encoding="utf-8") as f:
        f.write("<|endoftext|>".join(documents))
    lines = []
    train(config, log=lines.append)
    note = next(line for line in lines if line.startswith("note: "))
    assert "instead of 5000" in note
    found = int(note.split("training stopped after ")[1].split(" merges")[0])
    vocabulary = 256 + found + 1
    assert any(f"vocabulary {vocabulary};" in line for line in lines)
    config = tiny_config(tmp_path, "run", char=False, vocab_size=5000, max_iters=3)
    with open(config.data, "w", encoding="utf-8") as f:
        f.write("<|endoftext|>".join(documents))
    train(config, resume=True, log=quiet)       # the same ids again, so resuming is allowed


# ----- the run directory: one line each, one run at a time, what a new run may take over -----

def entries(out, *keys):
    lines = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    return [(line["iter"], key) for line in lines for key in keys if key in line]


def test_a_resume_logs_every_line_once_and_the_curve_plots_each_point_once(tmp_path):
    config = tiny_config(tmp_path, "run", max_iters=10)
    first = train(config, log=quiet)
    out = tmp_path / "run"
    before = (out / "metrics.jsonl").read_text()
    # resumed with nothing left to do: no second final evaluation, nothing logged
    again = train(config, resume=True, log=quiet)
    assert again["losses"] == {} and again["val_loss"] == first["val_loss"]
    assert (out / "metrics.jsonl").read_text() == before
    # continued, after a kill cut a line short: that line is dropped with a warning
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"iter": 11, "lo')
    lines = []
    train(tiny_config(tmp_path, "run", max_iters=12), resume=True, log=lines.append)
    assert f"warning: {out / 'metrics.jsonl'}, line {before.count(chr(10)) + 1} was cut short" in (
        "\n".join(lines))
    logged = entries(out, "loss", "val_loss")
    assert len(logged) == len(set(logged))
    assert [it for it, key in logged if key == "loss"] == list(range(1, 13))
    assert [it for it, key in logged if key == "val_loss"] == [5, 10, 12]
    svg = ET.fromstring((out / "loss.svg").read_text())
    paths = {p.get("class"): p.get("d") for p in svg.iter("{http://www.w3.org/2000/svg}path")}
    assert paths["train"].count(",") == 12 and paths["val"].count(",") == 3


def test_a_finished_run_leaves_only_its_files_with_the_umask_permissions(tmp_path):
    import os
    previous = os.umask(0o027)
    try:
        train(tiny_config(tmp_path, "run", max_iters=6), log=quiet)
    finally:
        os.umask(previous)
    out = tmp_path / "run"
    assert sorted(os.listdir(out)) == ["config.json", "loss.svg", "metrics.jsonl",
                                       "model.safetensors", "tokenizer.chars.json",
                                       "train_state.npz"]
    assert os.stat(out).st_mode & 0o777 == 0o750
    assert {os.stat(p).st_mode & 0o777 for p in out.iterdir()} == {0o640}


def test_a_second_run_on_the_same_directory_is_refused_at_once(tmp_path):
    from gpt.train import open_run_directory
    train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)
    lines = []
    with open_run_directory(tmp_path / "run", resume=True, log=quiet):      # a run under way
        for resume in (True, False):
            with pytest.raises(BlockingIOError, match="another training run is using"):
                train(tiny_config(tmp_path, "run", max_iters=4), resume=resume,
                      log=lines.append)
    assert lines == []                                       # refused before anything else
    train(tiny_config(tmp_path, "run", max_iters=4), resume=True, log=quiet)


def test_a_run_that_saved_no_progress_does_not_block_its_directory(tmp_path):
    import os

    import tinytorch as tt
    out = tmp_path / "run"
    # a failed start (too short a text for one window) leaves an empty directory at most
    short = tmp_path / "short.txt"
    short.write_text("tiny", encoding="utf-8")
    with pytest.raises(ValueError, match="block_size"):
        train(tiny_config(tmp_path, "run", data=str(short)), log=quiet)
    assert os.listdir(out) == []
    # a kill before the first save leaves at most metrics.jsonl: the same command works,
    # while --resume says why it cannot
    (out / "metrics.jsonl").write_text('{"iter": 1, "loss": 3.0}\n')
    with pytest.raises(FileNotFoundError, match="no train_state.npz.*without --resume"):
        train(tiny_config(tmp_path, "run"), resume=True, log=quiet)
    # a run that diverged at once keeps only its iteration-0 checkpoint: so does this one
    with pytest.raises(FloatingPointError):
        train(tiny_config(tmp_path, "run", max_iters=3, lr=1e30), log=quiet)
    assert tt.load(out / "train_state.npz")["iteration"] == 0
    # a new run over it (here with another tokenizer) takes the directory over whole
    lines = []
    result = train(tiny_config(tmp_path, "run", char=False, vocab_size=260, max_iters=2),
                   log=lines.append)
    assert lines[0] == f"{out} holds a run that saved no progress: starting it again"
    assert not (out / "tokenizer.chars.json").exists() and (out / "tokenizer.bpe").exists()
    assert [it for it, _ in entries(out, "loss")] == [1, 2] and result["val_loss"] > 0
    # now it holds progress: a new run is refused, pointing at --resume
    with pytest.raises(FileExistsError, match="holds a run saved at iteration 2; pass --resume"):
        train(tiny_config(tmp_path, "run"), log=quiet)


def test_a_directory_that_is_not_a_run_is_never_taken_over(tmp_path, shared_data):
    import shutil
    model_dir = tmp_path / "gpt2-tiny"                  # a model without training state
    shutil.copytree(shared_data / "gpt2-tiny", model_dir)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    for taken in (model_dir, notes):
        before = sorted(p.name for p in taken.iterdir())
        with pytest.raises(FileExistsError, match="already exists and is not empty"):
            train(tiny_config(tmp_path, taken.name), log=quiet)
        assert sorted(p.name for p in taken.iterdir()) == before


def test_a_long_evaluation_shows_its_progress_every_ten_seconds():
    from gpt.train import EvaluationProgress
    now = [0.0]                                 # a clock that moves 1 s per batch
    lines, checks = [], []
    progress = EvaluationProgress("eval  iter   250 | validation loss", 40, lines.append,
                                  check=lambda: checks.append(1), clock=lambda: now[0])
    for done in range(40):
        now[0] = float(done)
        progress(done)
    assert len(checks) == 40                    # a stop request is looked for before each
    assert lines == [f"eval  iter   250 | validation loss: {done} of 40 batches | 0m"
                     f"{40 - done:02d}s left" for done in (10, 20, 30)]
