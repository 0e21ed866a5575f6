"""examples/03_backprop_by_hand.py runs in fast mode: the hand gradients are tinytorch's."""
import re

import numpy as np


def shape_of(lines, name):
    """The shape printed after `name` at the start of a line, as a tuple."""
    (line,) = [line for line in lines if line.startswith(name + " ")]
    return tuple(int(n) for n in re.search(r"\(([\d, ]*)\)", line[len(name):])[1].split(",")
                 if n.strip())


def vector(text):
    return np.array([float(v) for v in text.strip("[] ").split()])


def test_03_backprop_by_hand_matches_tinytorch(run_example):
    result = run_example("03_backprop_by_hand.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # the parameters, in float64
    params = {m[1]: tuple(int(n) for n in m[2].split(",") if n.strip())
              for m in (re.fullmatch(r"  (W1|b1|W2|b2) \(([\d, ]+)\) +float64", line)
                        for line in lines) if m}
    assert params == {"W1": (8, 2), "b1": (8,), "W2": (3, 8), "b2": (3,)}

    # forward shapes, and every gradient has the shape of what it is the gradient of
    assert shape_of(lines, "hidden_pre = x @ W1^T + b1") == (12, 8)
    assert shape_of(lines, "logits = hidden @ W2^T + b2") == (12, 3)
    for grad, of in [("grad_W1", "W1"), ("grad_b1", "b1"), ("grad_W2", "W2"), ("grad_b2", "b2")]:
        assert shape_of(lines, grad) == params[of]
    assert shape_of(lines, "grad_logits") == (12, 3)
    assert shape_of(lines, "grad_x") == (12, 2)

    # d loss / d logits = (probs - one_hot) / N, printed for the first point
    probs = re.fullmatch(r"probs\[0\] = (\[.*\]) \(class (\d)\); every row sums to 1: True",
                         next(line for line in lines if line.startswith("probs[0] = ")))
    grad0 = re.fullmatch(r"grad_logits\[0\] = (\[.*\]) / N: negative only at the true class "
                         r"(\d), pushing its logit up",
                         next(line for line in lines if line.startswith("grad_logits[0] = ")))
    assert probs and grad0 and probs[2] == grad0[2]
    one_hot = np.eye(3)[int(probs[2])]
    assert np.allclose(vector(grad0[1]), vector(probs[1]) - one_hot, atol=2e-4)
    assert abs(vector(probs[1]).sum() - 1.0) < 3e-4
    assert "each row of grad_logits sums to 0: True" in lines

    # tinytorch's graph for the same forward pass
    start = lines.index("== 4. tinytorch: the same forward pass, then loss.backward() ==")
    assert lines[start + 1] == "CrossEntropy () float64"
    assert "    ├── Tanh (12, 8) float64" in lines and "    ├── W2 (3, 8) float64" in lines

    # the same loss, and the same gradients to rounding in float64
    loss = re.fullmatch(r"loss: by hand (\d\.\d{12}), tinytorch (\d\.\d{12}), "
                        r"\|difference\| (\S+)",
                        next(line for line in lines if line.startswith("loss: by hand")))
    assert loss and loss[1] == loss[2] and float(loss[3]) < 1e-12
    differences = {m[1]: float(m[2]) for m in
                   (re.fullmatch(r"  (\w+) +\([\d, ]+\) +(\d\.\d+e[-+]\d+)", line)
                    for line in lines) if m}
    assert set(differences) == {"W1", "b1", "W2", "b2", "logits", "x"}
    assert all(difference < 1e-10 for difference in differences.values()), differences

    # finite differences agree with the hand gradients
    checks = [re.fullmatch(r"  d loss / d (\w+)\[[\d, ]+\]: by hand +(-?\d\.\d+), "
                           r"measured +(-?\d\.\d+)", line)
              for line in lines if line.startswith("  d loss / d ")]
    assert [check[1] for check in checks] == ["W1", "b1", "W2", "b2"]
    assert all(abs(float(check[2]) - float(check[3])) < 1e-7 for check in checks)

    # one step against the gradients lowers the loss
    step = re.fullmatch(r"loss (\d\.\d+) -> (\d\.\d+) after W -= 0\.5 \* grad for every "
                        r"parameter", lines[-1])
    assert step and float(step[2]) < float(step[1])
    assert float(step[1]) == round(float(loss[1]), 6)
