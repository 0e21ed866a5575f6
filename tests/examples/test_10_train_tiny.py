"""examples/10_train_tiny.py trains in fast mode: the loss falls and the samples improve."""
import ast
import math
import re


def test_10_train_tiny_loss_falls_and_samples_improve(run_example):
    result = run_example("10_train_tiny.py", timeout=300)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("== 1. the text: ")

    # the batch: targets are the inputs shifted by one character
    inputs = ast.literal_eval(next(line for line in lines if line.startswith("inputs[0]:  "))
                              [len("inputs[0]:  "):-len("...")])
    targets = ast.literal_eval(next(line for line in lines if line.startswith("targets[0]: "))
                               [len("targets[0]: "):-len("...")])
    assert len(inputs) == len(targets) == 32 and inputs[1:] == targets[:-1]
    assert "inputs (12, 32), targets (12, 32)" in lines

    knows_nothing = re.fullmatch(r"a model that knows nothing has loss ln\((\d+)\) = (\d\.\d+)",
                                 next(line for line in lines if line.startswith("a model that")))
    assert knows_nothing and abs(float(knows_nothing[2]) - math.log(int(knows_nothing[1]))) < 1e-3
    assert "== 4. training: 300 steps of 12 x 32 characters ==" in lines

    # training losses, logged every 50 steps, fall from about ln(V)
    training = [(int(m[1]), float(m[2])) for m in
                (re.fullmatch(r"step +(\d+): training loss (\d+\.\d+) \(mean of the last 50 "
                              r"steps\), lr (\d\.\d+e-0\d)", line) for line in lines) if m]
    assert [step for step, _ in training] == [50, 100, 150, 200, 250, 300]
    losses = [loss for _, loss in training]
    assert losses[-1] == min(losses) and losses[-1] < losses[0] - 0.5

    # validation loss and a sample every 100 steps
    evaluations = [(i, int(m[1]), float(m[2]), int(m[3]), int(m[4])) for i, m in
                   enumerate(re.fullmatch(r"step +(\d+): validation loss (\d+\.\d+); a sample "
                                          r"\((\d+) of its (\d+) words of 3\+ letters are in "
                                          r"the text\):", line) for line in lines) if m]
    assert [step for _, step, *_ in evaluations] == [0, 100, 200, 300]
    val_losses = [loss for _, _, loss, _, _ in evaluations]
    assert abs(val_losses[0] - float(knows_nothing[2])) < 0.15      # untrained: about ln(V)
    assert val_losses[-1] < val_losses[0] - 1.0
    samples = [ast.literal_eval(lines[i + 1].strip()) for i, *_ in evaluations]
    assert all(len(sample) == 80 for sample in samples)
    # the untrained model's sample is noise; the trained model's has words from the text
    first_real, first_words = evaluations[0][3:]
    last_real, last_words = evaluations[-1][3:]
    assert first_real == 0
    assert last_real >= 2 and last_real / last_words > first_real / first_words
    # and it has learned the text's look: far more spaces and lower-case letters than noise
    assert samples[-1].count(" ") > samples[0].count(" ")
    assert re.fullmatch(r"300 steps took \d+\.\d s", lines[-1])
