"""tinytorch.graph: walking the nodes, the printed tree, the DOT export."""
import re

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import ops
from tinytorch.functional import composed


def small_expression():
    """y = sum(tanh(h) * h), h = x @ w + b: h feeds two ops, so its node is shared."""
    x = tt.tensor([[1.0, 2.0]], requires_grad=True)
    w = tt.tensor([[0.5], [-1.0]], requires_grad=True)
    b = tt.tensor([0.1], requires_grad=True)
    h = x @ w + b
    return (h.tanh() * h).sum(), {"x": x, "w": w, "b": b}


def test_tree_of_a_small_expression():
    y, names = small_expression()
    assert tt.graph.tree(y, names) == "\n".join([
        "Sum () float32",
        "└── Mul (1, 1) float32",
        "    ├── Tanh (1, 1) float32",
        "    │   └── Add (1, 1) float32 #1",
        "    │       ├── MatMul (1, 1) float32",
        "    │       │   ├── x (1, 2) float32",
        "    │       │   └── w (2, 1) float32",
        "    │       └── b (1,) float32",
        "    └── Add (1, 1) float32 #1 (shown above)",
    ])


def test_tree_names_from_named_parameters_and_unnamed_leaves():
    layer = tt.nn.Linear(3, 2, generator=np.random.default_rng(0))
    x = tt.tensor(np.ones((4, 3), np.float32))              # an input: no gradient
    loss = (layer(x) * 2.0).mean()
    assert tt.graph.tree(loss, layer.named_parameters()) == "\n".join([
        "Mean () float32",
        "└── Mul (4, 2) float32",
        "    └── Linear (4, 2) float32",
        "        ├── constant (4, 3) float32",
        "        ├── weight (2, 3) float32",
        "        └── bias (2,) float32",
    ])
    z = tt.tensor([1.0, 2.0], requires_grad=True).exp().to(np.float64)
    assert tt.graph.tree(z) == "Cast (2,) float64\n└── Exp (2,) float32\n    └── leaf (2,) float32"


def test_tree_of_a_leaf_and_of_multi_output_ops():
    x = tt.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert tt.graph.tree(x, {"x": x}) == "x (1, 3) float32"
    first, rest = x.split([1, 2], dim=1)
    y = first.sum() + rest.sum()
    assert tt.graph.tree(y) == "\n".join([
        "Add () float32",
        "├── Sum () float32",
        "│   └── Split[0] (1, 1) float32 #1",
        "│       └── leaf (1, 3) float32",
        "└── Sum () float32",
        "    └── Split[1] (1, 2) float32 #1 (shown above)",
    ])


def test_tree_after_backward_says_the_graph_is_freed():
    y, names = small_expression()
    y.backward()
    assert tt.graph.tree(y, names) == "Sum () float32 (freed by backward: its inputs are gone)"


def test_deep_chain_needs_no_recursion():
    x = tt.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    assert len(list(tt.graph.nodes(y))) == 5000
    lines = tt.graph.tree(y).splitlines()
    assert len(lines) == 5001 and lines[-1].endswith("└── leaf (1,) float32")


def test_nodes_visits_each_node_once():
    y, _ = small_expression()
    assert [node.fn.__name__ for node in tt.graph.nodes(y)] == ["Sum", "Mul", "Tanh", "Add", "MatMul"]
    assert list(tt.graph.nodes(tt.tensor([1.0], requires_grad=True))) == []
    with tt.no_grad():
        assert list(tt.graph.nodes(tt.tensor([1.0], requires_grad=True) * 2.0)) == []


PRIMITIVES = {getattr(ops, name) for name in ops.__all__}


@pytest.mark.parametrize("name", ["gelu", "layer_norm", "softmax"])
def test_nodes_prove_fused_is_one_node_and_composed_only_primitives(name):
    x = tt.tensor(np.random.default_rng(0).standard_normal((2, 4)), requires_grad=True)
    call = {"gelu": lambda f: f.gelu(x), "softmax": lambda f: f.softmax(x, dim=-1),
            "layer_norm": lambda f: f.layer_norm(x, 4, tt.tensor(np.ones(4), requires_grad=True),
                                                 tt.tensor(np.zeros(4), requires_grad=True))}[name]
    fused = list(tt.graph.nodes(call(F)))
    assert len(fused) == 1 and fused[0].fn not in PRIMITIVES
    twin = list(tt.graph.nodes(call(composed)))
    assert len(twin) > 1 and all(node.fn in PRIMITIVES for node in twin)


DECLARATION = re.compile(r'^  (n\d+) \[shape=(box|ellipse), label="((?:[^"\\]|\\.)*)"\];$')
EDGE = re.compile(r'^  (n\d+) -> (n\d+)(?: \[label="(\d+)"\])?;$')


def parse_dot(text):
    """A strict little reader for what to_dot writes: {name: (shape, label)} and edges."""
    lines = text.splitlines()
    assert lines[0] == "digraph tinytorch {" and lines[-1] == "}"
    declared, edges = {}, []
    for line in lines[1:-1]:
        if line in ("  rankdir=BT;", '  node [fontname="monospace"];'):
            continue
        if match := DECLARATION.match(line):
            assert match[1] not in declared
            declared[match[1]] = (match[2], match[3].replace("\\n", " "))
        elif match := EDGE.match(line):
            assert match[1] in declared and match[2] in declared      # declared before use
            edges.append((match[1], match[2], match[3]))
        else:
            raise AssertionError(f"unexpected DOT line: {line!r}")
    return declared, edges


def test_dot_has_every_node_once_and_every_edge():
    y, names = small_expression()
    declared, edges = parse_dot(tt.graph.to_dot(y, names))
    labels = {name: label for name, (_, label) in declared.items()}
    assert sorted(labels.values()) == sorted([
        "Sum () float32", "Mul (1, 1) float32", "Tanh (1, 1) float32", "Add (1, 1) float32",
        "MatMul (1, 1) float32", "x (1, 2) float32", "w (2, 1) float32", "b (1,) float32"])
    shapes = {labels[name]: shape for name, (shape, _) in declared.items()}
    assert shapes["x (1, 2) float32"] == "ellipse" and shapes["Sum () float32"] == "box"
    assert sorted((labels[a].split()[0], labels[b].split()[0]) for a, b, _ in edges) == sorted([
        ("Mul", "Sum"), ("Tanh", "Mul"), ("Add", "Mul"), ("Add", "Tanh"), ("MatMul", "Add"),
        ("b", "Add"), ("x", "MatMul"), ("w", "MatMul")])


def test_dot_labels_outputs_of_multi_output_ops_and_escapes_names():
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    first, rest = x.split([1, 2])
    declared, edges = parse_dot(tt.graph.to_dot(first.sum() * rest.sum(), {'say "hi"': x}))
    labels = {name: label for name, (_, label) in declared.items()}
    assert sorted((labels[a].split()[0], labels[b].split()[0], i) for a, b, i in edges) == [
        ("Split", "Sum", "0"), ("Split", "Sum", "1"), ("Sum", "Mul", None), ("Sum", "Mul", None),
        ('say', "Split", None)]
    assert '\\"hi\\" (3,) float32' in tt.graph.to_dot(x, {'say "hi"': x})
