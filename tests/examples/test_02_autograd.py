"""examples/02_autograd.py runs in fast mode and prints what a learner should see."""
import re


def test_02_autograd_prints_the_walk_through(run_example):
    result = run_example("02_autograd.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # 1. values and the gradients worked by hand: d = 2 * -3 + 10 = 4, L = 16, dL/dd = 8
    assert "d = a * b + c = 4.0" in lines
    assert "L = d * d = 16.0" in lines
    assert "L remembers its op: tensor(16., shape=(), dtype=float32, grad_fn=<Mul>, " \
           "requires_grad=True)" in lines
    assert "dL/da = -24.0   (2d * b = 8 * -3)" in lines
    assert "dL/db = 16.0   (2d * a = 8 * 2)" in lines
    assert "dL/dc = 8.0   (2d * 1)" in lines

    # 2. the tree, with the shared x * w printed once
    start = lines.index("Sum () float32")
    assert lines[start:start + 7] == [
        "Sum () float32",
        "└── Add (3,) float32",
        "    ├── Tanh (3,) float32",
        "    │   └── Mul (3,) float32 #1",
        "    │       ├── x (3,) float32",
        "    │       └── w (3,) float32",
        "    └── Mul (3,) float32 #1 (shown above)",
    ]
    assert "digraph tinytorch {" in lines
    # w (1 - tanh^2(x w)) + w at x w = 0.5, -1, 1.5
    assert "dy/dx = [0.8932 0.71   0.5904]   (w * (1 - tanh^2(x w)) + w)" in lines
    assert "after backward the graph is freed: Sum () float32 (freed by backward: its " \
           "inputs are gone)" in lines

    # 3. gradcheck passes for correct gradients and names the element for the buggy one,
    # whose backward is 2/3 of the true one: relative error 1/3
    assert "gradcheck of tanh(x @ w).sum(): True" in lines
    assert "gradcheck of Cube: True" in lines
    buggy = [line for line in lines if line.startswith("gradcheck of BuggyCube: ")]
    assert len(buggy) == 1
    assert "gradcheck failed for input 0 (shape (3, 4)) at element (0, 0)" in buggy[0]
    assert buggy[0].endswith("relative error 0.333")

    # 4. the MLP: its graph with parameter names, gradients for every parameter, and learning
    assert "== 4. a tiny MLP learns y = sin(x) (150 AdamW steps, 16 hidden units) ==" in lines
    assert "        │   │       ├── 0.weight (16, 1) float32" in lines
    assert "        │   ├── 2.weight (1, 16) float32" in lines
    norms = [line.split() for line in lines if "grad norm" in line]
    assert [row[0] for row in norms] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(float(row[-1]) > 0.0 for row in norms)
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == 6 and steps[0].startswith("step     0: loss ")
    fell = re.fullmatch(r"loss fell from (\d+\.\d+) to (\d+\.\d+)", lines[-2])
    assert fell and float(fell[2]) < float(fell[1]) / 50
    said = re.fullmatch(r"sin\(0\) = 0\.000 and sin\(1\.5\) = 0\.997; the MLP says "
                        r"(-?\d\.\d+) and (-?\d\.\d+)", lines[-1])
    assert said and abs(float(said[1])) < 0.1 and abs(float(said[2]) - 0.997) < 0.1
