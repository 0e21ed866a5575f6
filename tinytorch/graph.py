"""Looking at the graph behind a tensor: its nodes, an indented tree, Graphviz DOT text.

Every tensor made by an op on tensors that require gradients points to its graph node
(`tensor._node`, a `tinytorch.autograd.Node`): the op (`node.fn`, a Function class) and the
arguments it was applied to (`node.inputs`, tensors among them). Following the inputs back
reaches the leaves: parameters and inputs, which have no node.

    x = tt.tensor([[1.0, 2.0]], requires_grad=True)
    w = tt.tensor([[0.5], [-1.0]], requires_grad=True)
    y = (x @ w).tanh().sum()
    print(tt.graph.tree(y, names={"x": x, "w": w}))

    Sum () float32
    └── Tanh (1, 1) float32
        └── MatMul (1, 1) float32
            ├── x (1, 2) float32
            └── w (2, 1) float32

`backward()` frees the graph as it walks it (unless `retain_graph=True`), so look before.
"""
from .tensor import Tensor

__all__ = ["nodes", "tree", "to_dot"]


def nodes(tensor):
    """Yield every graph node behind `tensor`, each once (depth first, outputs before the
    nodes that made their inputs). A leaf, or a tensor made under no_grad, has none."""
    if tensor._node is None:
        return
    seen, stack = {tensor._node}, [tensor._node]
    while stack:
        node = stack.pop()
        yield node
        for parent in reversed(_tensor_inputs(node)):
            if parent._node is not None and parent._node not in seen:
                seen.add(parent._node)
                stack.append(parent._node)


def tree(tensor, names=None):
    """The graph behind `tensor` as indented text, one line per op or leaf:

        op      its Function's name ([i] for output i of a multi-output op), shape, dtype
        leaf    its name from `names`, else "leaf" (requires grad) or "constant", shape, dtype

    `names` maps names to tensors: a dict, or pairs such as `model.named_parameters()`. An op
    reached along several paths is printed once, tagged #k, and later lines refer to it.
    Iterative, so a graph thousands of ops deep prints without hitting the recursion limit.
    """
    labels = _labels(names)
    shared = _shared_nodes(tensor)
    tags, lines = {}, []
    stack = [(tensor, "", "")]        # (tensor, start of its line, start of its inputs' lines)
    while stack:
        t, head, indent = stack.pop()
        text, node = _describe(t, labels), t._node
        if node is None:
            lines.append(head + text)
            continue
        if node in tags:
            lines.append(f"{head}{text} {tags[node]} (shown above)")
            continue
        if node in shared:
            tags[node] = f"#{len(tags) + 1}"
            text += " " + tags[node]
        if node.freed:
            text += " (freed by backward: its inputs are gone)"
        lines.append(head + text)
        inputs = _tensor_inputs(node)
        for i in reversed(range(len(inputs))):         # reversed: the stack pops the first first
            last = i == len(inputs) - 1
            stack.append((inputs[i], indent + ("└── " if last else "├── "),
                          indent + ("    " if last else "│   ")))
    return "\n".join(lines)


def to_dot(tensor, names=None):
    """The graph behind `tensor` as Graphviz DOT text (render with `dot -Tsvg graph.dot`).

    Ops are boxes, leaves ellipses; edges point from an input to the op that used it,
    labelled with the output index when the input is one of several outputs of an op.
    """
    labels = _labels(names)
    ids = {}                       # a node or a leaf tensor -> its DOT name, in visiting order
    lines = ["digraph tinytorch {", "  rankdir=BT;", '  node [fontname="monospace"];']

    def dot_name(t):
        """The DOT name of the op that made `t` (or of leaf `t`), declared on first sight."""
        key = t if t._node is None else t._node
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            if t._node is None:
                lines.append(f'  {ids[key]} [shape=ellipse, label="{_escape(_describe(t, labels))}"];')
            else:
                label = f"{t._node.fn.__name__}\\n{t.shape} {t.dtype}"
                lines.append(f'  {ids[key]} [shape=box, label="{label}"];')
        return ids[key]

    dot_name(tensor)
    stack, done = [tensor], set()
    while stack:
        node = stack.pop()._node
        if node is None or node in done:
            continue
        done.add(node)
        for t in _tensor_inputs(node):
            edge_label = f' [label="{t._output_index}"]' if t._node is not None \
                and t._node.n_outputs > 1 else ""
            lines.append(f"  {dot_name(t)} -> {ids[node]}{edge_label};")
            stack.append(t)
    return "\n".join(lines + ["}"]) + "\n"


def _tensor_inputs(node):
    """The tensors among a node's arguments (the rest are dims, shapes, constants)."""
    return [arg for arg in node.inputs if isinstance(arg, Tensor)]


def _labels(names):
    """{id(tensor): name} from a dict of name -> tensor or from (name, tensor) pairs."""
    if names is None:
        return {}
    pairs = names.items() if isinstance(names, dict) else names
    return {id(t): name for name, t in pairs}


def _shared_nodes(tensor):
    """Nodes that more than one tensor input (or the tensor itself) leads to."""
    counts = {}
    if tensor._node is not None:
        counts[tensor._node] = 1
    for node in nodes(tensor):
        for t in _tensor_inputs(node):
            if t._node is not None:
                counts[t._node] = counts.get(t._node, 0) + 1
    return {node for node, count in counts.items() if count > 1}


def _describe(t, labels):
    where = f"{t.shape} {t.dtype}"
    node = t._node
    if node is not None:
        output = f"[{t._output_index}]" if node.n_outputs > 1 else ""
        return f"{node.fn.__name__}{output} {where}"
    name = labels.get(id(t))
    if name is None:
        return f"{'leaf' if t.requires_grad else 'constant'} {where}"
    return f"{name} {where}" if t.requires_grad else f"{name} {where} (no grad)"


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')
