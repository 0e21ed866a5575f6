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
        Tensor = _tensor.Tensor
        arrays, needs, any_needs = [], [], False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                needs.append(a.requires_grad)
                any_needs = any_needs or a.requires_grad
            else:
                arrays.append(a)
                needs.append(False)
        needs_input_grad = tuple(needs) if any_needs and _grad_enabled else None
        ctx = Node(cls, args, needs_input_grad or (False,) * len(args))
        try:
            output = cls.forward(ctx, *arrays)
        except ValueError as error:
            shapes = ", ".join(str(a.shape) for a in arrays if isinstance(a, np.ndarray))
            raise ValueError(f"{cls.__name__}: {error} (input shapes {shapes})") from error

        if isinstance(output, tuple):
            if needs_input_grad is None:
                return tuple(Tensor(out) for out in output)
            ctx.n_outputs = len(output)
            ctx.output_shapes = [(out.shape, out.dtype) for out in output]
            return tuple(_result(Tensor, out, ctx, i) for i, out in enumerate(output))
        if needs_input_grad is None:
            return Tensor(output)
        return _result(Tensor, output, ctx, 0)


def _result(tensor_class, array, node, index):
    """Wrap an op's output; only floating-point outputs take part in the graph."""
    if array.dtype.kind != "f":
        return tensor_class(array)
    result = tensor_class(array, requires_grad=True)
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
    """Accumulate d(tensor)/d(leaf) * grad into the `.grad` of every leaf that requires it."""
    root = tensor._node
    if root is None:
        _accumulate_leaf(tensor, grad, set())
        return
    if root.freed:
        _raise_freed()
    order = _topological_order(root)
    leaf_owners = set()      # memory already handed to a leaf's .grad in this walk
    pending = {root: [None] * root.n_outputs}
    pending[root][tensor._output_index] = grad
    for node in order:
        output_grads = pending.pop(node, None)
        if output_grads is None:
            # Every op that used this node's outputs returned None for them (a user's Function
            # may, as in PyTorch): no gradient reached it, so it has none to pass on.
            input_grads = ()
        else:
            if node.retained:
                _store_retained(node, output_grads)
            if node.n_outputs == 1:
                input_grads = node.fn.backward(node, output_grads[0])
            else:
                input_grads = node.fn.backward(node, *_fill_missing(node, output_grads))
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, needs, g in zip(node.inputs, node.needs_input_grad, input_grads):
            if not needs or g is None:
                continue
            if g.shape != parent.data.shape:
                g = _checked_unbroadcast(node, parent, g)
            if g.dtype != parent.data.dtype:        # float32 x float64 gave float64, say
                g = g.astype(parent.data.dtype)
            if parent._node is None:
                _accumulate_leaf(parent, g, leaf_owners)
            else:
                slots = pending.get(parent._node)
                if slots is None:
                    slots = pending[parent._node] = [None] * parent._node.n_outputs
                i = parent._output_index
                # Out of place: `g` may be the very array another input also received.
                slots[i] = g if slots[i] is None else slots[i] + g
        if not retain_graph:
            node.release()


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
