"""The autograd engine: `Function`, the graph node it records, and the backward walk.

Every differentiable op is a `Function` subclass with two static methods side by side:

    forward(ctx, *args)   plain ndarrays (and Python values) in, an ndarray (or a tuple) out
    backward(ctx, *grads) one gradient per output in, one gradient per input out (None where
                          an input needs none)

`MyOp.apply(*tensors)` unwraps the tensors, runs `forward`, and, when any input requires a
gradient, records a `Node` (the `ctx` both methods receive) that points back to the inputs.
`Tensor.backward()` then walks those nodes from the output back to the leaves.

Three jobs are done here once, so that no op has to repeat them:
- undoing broadcasting: an op returns the gradient in the broadcast shape of its output, and
  `unbroadcast` sums it back to the shape of the input;
- accumulating: an input used by several ops receives the sum of their gradients;
- matching dtypes: a gradient always has its tensor's dtype (as in PyTorch), so a float32
  input of an op that promoted to float64 still gets a float32 gradient.
"""
import contextlib

import numpy as np

_grad_enabled = True


def is_grad_enabled():
    """True unless inside `no_grad()`."""
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Sets whether new ops record the graph, and restores the old setting on exit."""

    def __init__(self, enabled):
        self.enabled = enabled
        # A stack, not one value: as a decorator the same object is entered again by every
        # call, so a recursive function enters it again before the first call has left.
        self.previous = []

    def __enter__(self):
        global _grad_enabled
        self.previous.append(_grad_enabled)
        _grad_enabled = self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.previous.pop()
        return False


def no_grad():
    """Context manager and decorator: ops inside record no graph (for evaluation and sampling).

        with tt.no_grad():
            logits, _ = model(idx)
    """
    return _GradMode(False)


def enable_grad():
    """Context manager and decorator: turns recording back on inside a `no_grad()` block."""
    return _GradMode(True)


class Node:
    """One recorded op in the graph: the `ctx` that `forward` and `backward` receive.

    `fn` is the Function class, `inputs` the arguments `apply` got (Tensors stay Tensors, so the
    walk can follow them), `needs_input_grad` one bool per argument. Ops may store anything else
    they need for backward as attributes (`ctx.dim = dim`); `save_for_backward` is the usual way.
    """

    # Defaults as class attributes: a node is made for every op, so its __init__ stays short.
    saved_tensors = ()
    n_outputs = 1
    retained = None          # {output index: weak reference to a tensor} for retain_grad()
    freed = False

    def __init__(self, fn, inputs, needs_input_grad):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def release(self):
        """Drop everything backward needed, so the memory goes as soon as the walk passes."""
        fn, n_outputs = self.fn, self.n_outputs
        self.__dict__.clear()
        self.fn, self.n_outputs, self.freed, self.inputs = fn, n_outputs, True, ()

    def __repr__(self):
        return f"<{self.fn.__name__}>"


class Function:
    """Base class of every differentiable op, ours and users' (as `torch.autograd.Function`).

        class Square(tt.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 2.0 * x * grad

        y = Square.apply(x)

    `forward` sees plain ndarrays (and any non-tensor arguments as given). `backward` returns
    one gradient per argument of `forward` (a bare array when there is one argument), in the
    broadcast shape of the output if that is easier: the engine sums it back to the input's
    shape. A forward that returns a tuple of arrays makes `apply` return a tuple of tensors, and
    `backward` then receives one gradient per output (zeros for outputs that got none).
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        """forward(ctx, *arrays) on the arrays inside `args`, its output wrapped in tensors.
        If an input requires a gradient (outside no_grad), the outputs remember `ctx`, this
        call's graph node, so that backward can come back through it."""
        arrays, needs = _unwrap(args)
        record = _grad_enabled and True in needs
        ctx = Node(cls, args, needs if record else (False,) * len(args))
        try:
            output = cls.forward(ctx, *arrays)
        except ValueError as error:
            raise _named(cls, error, arrays) from error
        if not isinstance(output, tuple):
            return _result(output, ctx, 0, record)
        if record:                     # what backward needs to make zeros for unused outputs
            ctx.n_outputs = len(output)
            ctx.output_shapes = [(out.shape, out.dtype) for out in output]
        return tuple(_result(out, ctx, i, record) for i, out in enumerate(output))


def _unwrap(args):
    """The arrays inside `args` (other arguments as they are), and per argument whether it is
    a tensor that requires a gradient."""
    Tensor = _tensor.Tensor
    arrays, needs = [], []
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            needs.append(a.requires_grad)
        else:
            arrays.append(a)
            needs.append(False)
    return arrays, tuple(needs)


def _named(cls, error, arrays):
    """A ValueError from forward, with the op's name and the input shapes added."""
    shapes = ", ".join(str(a.shape) for a in arrays if isinstance(a, np.ndarray))
    return ValueError(f"{cls.__name__}: {error} (input shapes {shapes})")


def _result(array, node, index, record):
    """Wrap an op's output; only floating-point outputs of a recorded op join the graph."""
    if not record or array.dtype.kind != "f":
        return _tensor.Tensor(array)
    result = _tensor.Tensor(array, requires_grad=True)
    result._node = node
    result._output_index = index
    return result


def unbroadcast(grad, shape):
    """Sum `grad` over the axes that broadcasting added or stretched, giving `shape`.

    An input of shape (3, 1) added to one of shape (2, 3, 4) was stretched along the last axis
    and repeated along a new first one; its gradient is the output's gradient summed over both.
    `grad` has at least as many axes as `shape` (leading axes are the added ones); the result
    has exactly `shape`. `grad` may be a read-only view, and is never written into.
    """
    # BEGIN EXERCISE unbroadcast: sum over axes broadcasting added or stretched
    extra = grad.ndim - len(shape)
    stretched = [extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1]
    axes = tuple(range(extra)) + tuple(stretched)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
    # END EXERCISE unbroadcast


def _topological_order(root):
    """Nodes reachable from `root`, each after every node that consumes its outputs: a list
    that starts with root, in which every node comes before the nodes that made its inputs.

    A node's inputs are `node.inputs`; the node that made an input tensor is
    `getattr(tensor, "_node", None)` (None for leaves and for arguments that are not tensors).
    Iterative depth-first search (a 10,000-op chain must not hit Python's recursion limit);
    a node reached along many paths is listed once. A node whose graph was already released
    (`node.freed`, after a backward without retain_graph) cannot be walked: `_raise_freed()`.
    """
    # BEGIN EXERCISE topological_sort: iterative DFS; each node after all its consumers
    order, visited = [], {root}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, inputs = stack[-1]
        for tensor in inputs:
            parent = getattr(tensor, "_node", None)
            if parent is not None and parent not in visited:
                if parent.freed:
                    _raise_freed()
                visited.add(parent)
                stack.append((parent, iter(parent.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order
    # END EXERCISE topological_sort


def _raise_freed():
    raise RuntimeError(
        "backward through a graph that was already freed: the first backward() released what "
        "it saved. Pass retain_graph=True to the first backward() to walk the graph twice, or "
        "run the forward pass again.")


def run_backward(tensor, grad, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) * grad into the `.grad` of every leaf that requires it.

    The walk: visit each op after every op that used its outputs (so their gradients are all
    in), call its backward, and pass each input's gradient on, to the op that made that input
    or into a leaf's .grad. `GradientRouter` does the passing on.
    """
    if tensor._node is None:                     # backward() on a leaf: its gradient is grad
        _accumulate_leaf(tensor, grad, set())
        return
    if tensor._node.freed:
        _raise_freed()
    router = GradientRouter(tensor, grad)
    for node in _topological_order(tensor._node):
        input_grads = _call_backward(node, router.output_grads(node))
        for parent, needs, g in zip(node.inputs, node.needs_input_grad, input_grads):
            if needs and g is not None:
                router.send(node, parent, g)
        if not retain_graph:
            node.release()                       # its saved arrays go as soon as it is done


def _call_backward(node, output_grads):
    """node's backward for the gradients of its outputs; one gradient per input, as a tuple."""
    if output_grads is None:
        # Every op that used this node's outputs returned None for them (a user's Function
        # may, as in PyTorch): no gradient reached it, so it has none to pass on.
        return ()
    if node.retained:
        _store_retained(node, output_grads)
    if node.n_outputs == 1:
        input_grads = node.fn.backward(node, output_grads[0])
    else:
        input_grads = node.fn.backward(node, *_fill_missing(node, output_grads))
    return input_grads if isinstance(input_grads, tuple) else (input_grads,)


class GradientRouter:
    """Where the gradients wait during one backward walk.

    `pending` holds, for each node not yet visited, the gradients of its outputs summed so far;
    a gradient for a leaf goes straight into its `.grad`. On the way, each gradient is summed
    back to its input's shape (un-broadcasting) and converted to its input's dtype.
    """

    def __init__(self, tensor, grad):
        root = tensor._node
        self.pending = {root: [None] * root.n_outputs}
        self.pending[root][tensor._output_index] = grad
        self.leaf_owners = set()       # memory already handed to a leaf's .grad in this walk

    def output_grads(self, node):
        """The summed gradients of node's outputs (None for an output nothing used), or None
        if no gradient reached it at all."""
        return self.pending.pop(node, None)

    def send(self, node, parent, grad):
        """Add `grad`, node's gradient for its input `parent`, to where it belongs."""
        if grad.shape != parent.data.shape:
            grad = _checked_unbroadcast(node, parent, grad)
        if grad.dtype != parent.data.dtype:          # float32 x float64 gave float64, say
            grad = grad.astype(parent.data.dtype)
        if parent._node is None:
            _accumulate_leaf(parent, grad, self.leaf_owners)
            return
        slots = self.pending.get(parent._node)
        if slots is None:
            slots = self.pending[parent._node] = [None] * parent._node.n_outputs
        i = parent._output_index
        # Out of place: `grad` may be the very array another input also received.
        slots[i] = grad if slots[i] is None else slots[i] + grad


def _checked_unbroadcast(node, parent, grad):
    try:
        return unbroadcast(grad, parent.data.shape)
    except ValueError:
        raise ValueError(f"{node.fn.__name__}.backward returned a gradient of shape {grad.shape} "
                         f"for an input of shape {parent.data.shape}") from None


def _fill_missing(node, output_grads):
    """Outputs of a multi-output op that nothing used get a zero gradient."""
    return [np.zeros(shape, dtype) if g is None else g
            for g, (shape, dtype) in zip(output_grads, node.output_shapes)]


def _accumulate_leaf(tensor, grad, leaf_owners):
    """Add `grad` into `tensor.grad` (leaves keep gradients across backward calls until
    zero_grad()).

    Each leaf gets memory of its own, so that `p.grad *= c` (clipping, say) can never change
    another leaf's gradient: `a + b` hands both the very same array, and a reshape hands out a
    view. A read-only view (from np.broadcast_to) is copied for the same reason.
    """
    owner = grad if grad.base is None else grad.base
    if id(owner) in leaf_owners or not grad.flags.writeable:
        grad = grad.copy()
        owner = grad
    leaf_owners.add(id(owner))
    tensor.grad = grad if tensor.grad is None else tensor.grad + grad


def _store_retained(node, output_grads):
    """A copy, for the reason leaves get memory of their own: the same array flows on (to a
    leaf, say, through an Add), and it may be a read-only view (from np.broadcast_to)."""
    for index, ref in node.retained.items():
        tensor = ref()
        if tensor is not None and output_grads[index] is not None:
            g = output_grads[index]
            tensor.grad = g.copy() if tensor.grad is None else tensor.grad + g


# At the bottom because tensor.py's ops need Function (defined above) to exist first.
from . import tensor as _tensor  # noqa: E402
