"""Optimizers (SGD, Adam, AdamW) and a warmup-then-cosine learning-rate schedule, as in
`torch.optim`.

    optimizer = tt.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    for it in range(max_iters):
        tt.optim.set_lr(optimizer, tt.optim.warmup_cosine_lr(it, 3e-4, 3e-5, 100, max_iters))
        loss = ...
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

Parameter groups: `params` is either an iterable of parameters, or of dicts such as
`{"params": [...], "weight_decay": 0.0}` whose entries override the optimizer's defaults for
those parameters (GPT training decays weights but not biases and layer-norm gains this way).

Updates happen in place on `p.data` with NumPy ufuncs and `out=`, so a step allocates almost no
memory, and they walk large arrays in cache-sized pieces (see `_pieces`). Every scalar is a
Python float: a NumPy float64 scalar (what `np.sqrt(2)` returns) would make NumPy 2 compute a
float32 parameter's update in float64, five times slower.

Two things an optimizer does to the process and its parameters, for speed:
- Each group's parameters move into one contiguous array, their gradients and the optimizer's
  state into others (tinytorch.flat_parameters): `p.data` becomes a view into it, backward
  writes `p.grad` into it, and a step is a few passes over the whole group instead of a dozen
  NumPy calls per parameter. Replacing a parameter's array (load_state_dict, to(dtype), by
  hand) is fine: the next step copies the new values in first.
- Creating one calls `tinytorch.memory.keep_freed_memory()`, so that the training loop it
  drives reuses the memory each step frees instead of page-faulting fresh memory in.
"""
import itertools
import math

import numpy as np

from . import memory
from .flat_parameters import FlatParameters

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "warmup_cosine_lr", "set_lr"]

PIECE = 1 << 15      # elements updated at a time: a few arrays of 128 KB fit in the L2 cache


class Optimizer:
    """Base class: parameter groups, `zero_grad`, `state_dict` / `load_state_dict`.

    param_groups  a list of dicts: "params" (a list of parameters) plus the hyperparameters
                  ("lr", "weight_decay", ...) that apply to them
    state         {parameter: {name: ndarray or number}}, e.g. Adam's "step", "exp_avg" and
                  "exp_avg_sq"; a parameter gets state at its first update, never before
    Subclasses define `step()`.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.param_groups = []
        self.state = {}
        self._flat = []             # one FlatParameters per group
        self._scratch = {}          # dtype -> a reusable temporary, see _temporary
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty list of parameters")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)
        memory.keep_freed_memory()  # a training loop frees and allocates the same every step

    def add_param_group(self, group):
        """Add a group: `{"params": [...], **hyperparameters}`; missing ones take the defaults."""
        group = {**self.defaults, **group}
        group["params"] = list(group["params"])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not hasattr(p, "data") or not hasattr(p, "grad"):
                raise TypeError(f"optimizers take tensors (e.g. model.parameters()), got "
                                f"{type(p).__name__}")
            if id(p) in seen:
                raise ValueError("a parameter appears in more than one parameter group "
                                 "(or twice in one); each must appear once")
            seen.add(id(p))
        self.param_groups.append(group)
        self._flat.append(FlatParameters(group["params"]))

    def zero_grad(self):
        """Forget every parameter's gradient (sets `.grad` to None, as PyTorch does)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        raise NotImplementedError

    def _params_to_update(self, group):
        """The group's parameters that take part in this step: those with a gradient."""
        return [p for p in group["params"] if p.grad is not None and p.requires_grad]

    def _gathered_groups(self):
        """(group, its FlatParameters) for every group, with every parameter, gradient and
        state array brought back into the flat buffers (see FlatParameters.gather)."""
        for i, group in enumerate(self.param_groups):
            if i == len(self._flat):                    # a group appended by hand
                self._flat.append(FlatParameters(group["params"]))
            flat = self._flat[i]
            if len(flat.params) != len(group["params"]) or any(
                    a is not b for a, b in zip(flat.params, group["params"])):
                flat = self._flat[i] = FlatParameters(group["params"])   # the list changed
            flat.gather(self.state)
            yield group, flat

    def _runs(self, flat, params, names, key):
        """(key, (data, grad, [state arrays named by `names`])) for each run of `params`
        that lie side by side in `flat` and share `key(p)` (Adam's step count, say): the
        arrays cover the whole run, so one update serves all its parameters."""
        for value, alike in itertools.groupby(params, key):
            for arrays in flat.runs(list(alike), self.state, names):
                yield value, arrays

    def _temporary(self, array):
        """Scratch memory shaped like `array` (usually a piece), reused for every parameter of
        one dtype: each update needs one intermediate array, and allocating it afresh each
        time would cost about as much as the arithmetic on it."""
        buffer = self._scratch.get(array.dtype)
        if buffer is None or buffer.size < array.size:
            buffer = self._scratch[array.dtype] = np.empty(array.size, array.dtype)
        return buffer[:array.size].reshape(array.shape)

    @staticmethod
    def _pieces(*arrays):
        """Yield matching flat pieces of PIECE elements of `arrays` (all of one shape).

        The pieces are views, so updating one updates the array. An update makes a dozen
        passes over its arrays; piece by piece, they run over data already in the CPU cache
        instead of streaming a large parameter from memory a dozen times (1.8x faster for
        GPT-2's embedding). Arrays that are not C-contiguous have no flat view: they come whole.
        """
        if not all(a.flags.c_contiguous for a in arrays):
            yield arrays
            return
        flat = [a.reshape(-1) for a in arrays]
        for start in range(0, flat[0].size, PIECE):
            yield [a[start:start + PIECE] for a in flat]

    # ----- saving and resuming ------------------------------------------------------------

    def state_dict(self):
        """Everything needed to resume exactly, as plain arrays, numbers and lists:

            {"state": {"0": {"step": 3, "exp_avg": ndarray, ...}, ...},
             "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}, ...]}

        Parameters are numbered in group order, as PyTorch does; the numbers are strings so
        that `tt.save` can store the dict. The arrays are copies: later steps do not change a
        state dict already taken.
        """
        state, groups, index = {}, [], 0
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = list(range(index, index + len(group["params"])))
            groups.append(saved)
            for p in group["params"]:
                if p in self.state:
                    state[str(index)] = {name: value.copy() if isinstance(value, np.ndarray)
                                         else value for name, value in self.state[p].items()}
                index += 1
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by `state_dict` (or read back by `tt.load`)
        into this optimizer, whose groups must hold as many parameters as the saved ones."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the saved state has {len(saved_groups)} "
                             f"parameter groups, this optimizer {len(self.param_groups)}")
        params = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"load_state_dict: group {i} has {len(group['params'])} "
                                 f"parameters, the saved one {len(saved['params'])}")
            for key, value in saved.items():
                if key != "params":
                    # A file gives lists (and maybe 0-d arrays); restore the defaults' types.
                    group[key] = _like(self.defaults.get(key, value), value)
            params.extend(group["params"])
        self.state = {}
        for key, saved_state in state_dict["state"].items():
            p = params[int(key)]
            state = {}
            for name, value in saved_state.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != p.shape:
                        raise ValueError(f"load_state_dict: state {name!r} of parameter {key} "
                                         f"has shape {value.shape}, the parameter {p.shape}")
                    state[name] = np.array(value, dtype=p.dtype)     # a copy of our own
                else:
                    state[name] = value.item() if isinstance(value, np.ndarray) else value
            self.state[p] = state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} parameters, {settings}")
        return "\n".join(lines + [")"])


def _like(example, value):
    """`value` converted to the type of `example` (tuple, float, int)."""
    if isinstance(example, tuple):
        return tuple(float(v) for v in value)
    if isinstance(value, np.ndarray):
        value = value.item()
    return value


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum and (L2) weight decay:

        g = grad + weight_decay * p                  (L2: the decay goes through momentum)
        buf = g at the first step, else momentum * buf + g
        p -= lr * buf                                (p -= lr * g without momentum)

    Unlike PyTorch there is no `dampening` or `nesterov` (both would be off by default there).
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        _check(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    def step(self):
        for group, flat in self._gathered_groups():
            lr, momentum = float(group["lr"]), float(group["momentum"])
            weight_decay = float(group["weight_decay"])
            params, names, new = self._params_to_update(group), (), set()
            if momentum != 0.0:
                names = ("momentum_buffer",)
                for p in params:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:      # the first step: buf = g
                        state["momentum_buffer"] = flat.state_view("momentum_buffer", p)
                        new.add(p)
            for first_step, (data, grads, bufs) in self._runs(flat, params, names,
                                                               key=new.__contains__):
                # buf is [] without momentum, else [the matching piece of the buffer].
                for param, grad, *buf in self._pieces(data, grads, *bufs):
                    update = self._temporary(param)
                    if weight_decay != 0.0:
                        np.multiply(param, weight_decay, out=update)
                        grad = np.add(update, grad, out=update)
                    if buf:
                        (buf,) = buf
                        if first_step:
                            buf[...] = grad
                        else:
                            buf *= momentum
                            buf += grad
                        grad = buf
                    np.multiply(grad, lr, out=update)      # update may be grad: elementwise
                    param -= update


class Adam(Optimizer):
    """Adam (Kingma and Ba), PyTorch's formulation; weight decay here is L2, added to the
    gradient before the moments (AdamW decouples it). Per parameter, at step t = 1, 2, ...:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g              (exp_avg, starts at 0)
        v = beta2 * v + (1 - beta2) * g^2            (exp_avg_sq, starts at 0)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps
        p -= lr / (1 - beta1^t) * m / denom

    The bias corrections 1 - beta^t undo the pull towards 0 of moments that started at 0.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check(lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay)
        if not (betas[0] < 1.0 and betas[1] < 1.0):
            raise ValueError(f"betas must be below 1, got {betas}")
        betas = (float(betas[0]), float(betas[1]))
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self):
        for group, flat in self._gathered_groups():
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
            params = self._params_to_update(group)
            for p in params:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": 0,
                                             "exp_avg": flat.state_view("exp_avg", p),
                                             "exp_avg_sq": flat.state_view("exp_avg_sq", p)}
                state["step"] += 1
            # Parameters that share a step count (all of them, unless some missed steps) are
            # updated together, a run of them at a time.
            for step, (data, grad, (m, v)) in self._runs(flat, params, ("exp_avg", "exp_avg_sq"),
                                                          key=lambda p: self.state[p]["step"]):
                for pieces in self._pieces(data, grad, m, v):
                    adam_update(*pieces, self._temporary(pieces[0]), step, lr, beta1, beta2, eps,
                                weight_decay, self.decoupled_weight_decay)


def adam_update(param, grad, m, v, tmp, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One Adam (or, with `decoupled`, AdamW) update, in place on param, m and v (arrays of one
    shape; tmp is scratch memory of that shape, holding anything, free to overwrite; grad is
    only read).
    step is t = 1, 2, ... (the bias corrections use it). See Adam's docstring for the
    formulas and AdamW's for the decoupled decay. A float32 param stays float32 (lr, betas,
    eps and weight_decay arrive as Python floats; keep them so)."""
    # BEGIN EXERCISE adamw_step: decay p, update m and v, bias-corrected step
    # Python floats, so a float32 parameter is updated in float32.
    step_size = lr / (1.0 - beta1 ** step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
    if weight_decay != 0.0:
        if decoupled:
            param *= 1.0 - lr * weight_decay            # AdamW: shrink p itself
        else:
            np.multiply(param, weight_decay, out=tmp)   # Adam: L2 in the gradient
            grad = tmp + grad       # a new array: tmp is needed again below
    m *= beta1
    np.multiply(grad, 1.0 - beta1, out=tmp)
    m += tmp
    v *= beta2
    np.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    v += tmp
    denom = np.sqrt(v, out=tmp)
    denom /= bias_correction2_sqrt
    denom += eps
    update = np.divide(m, denom, out=tmp)
    update *= step_size
    param -= update
    # END EXERCISE adamw_step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), PyTorch's formulation:

        p -= lr * weight_decay * p         (first; the decay does not pass through m and v)
        then Adam's update with g = grad.

    Decoupling makes the decay the same for every weight, whatever its gradient history; with
    L2 inside Adam, weights with large gradients would be decayed less.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


def _check(**values):
    for name, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"{name} must be >= 0, got {value}")


# ----- learning-rate schedule -------------------------------------------------------------

def warmup_cosine_lr(it, max_lr, min_lr, warmup_iters, decay_iters):
    """The learning rate for iteration `it` (0-based), nanoGPT's `get_lr`:

        it < warmup_iters          max_lr * (it + 1) / (warmup_iters + 1)     linear warmup
        warmup_iters <= it <= decay_iters
                                   min_lr + (max_lr - min_lr) * (1 + cos(pi * r)) / 2,
                                   r = (it - warmup_iters) / (decay_iters - warmup_iters)
        it > decay_iters           min_lr

    The warmup counts from it + 1, so the very first step already moves the weights (a step
    at lr 0 would be wasted); it reaches max_lr at it == warmup_iters, where the cosine starts.
    The rate falls from max_lr to min_lr by it == decay_iters and stays there (with
    decay_iters == warmup_iters there is no cosine: min_lr from warmup_iters on). A Python
    float.
    """
    # BEGIN EXERCISE warmup_cosine_lr: linear warmup to max_lr, then half a cosine down to min_lr
    if it < warmup_iters:
        return max_lr * (it + 1) / (warmup_iters + 1)
    if it > decay_iters or decay_iters == warmup_iters:
        return min_lr
    ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)
    # END EXERCISE warmup_cosine_lr


def set_lr(optimizer, lr):
    """Set every parameter group's learning rate to `lr` (a Python float).

    For groups that should keep different rates, set `group["lr"]` yourself, e.g. to a
    schedule's value times a per-group factor.
    """
    lr = float(lr)
    for group in optimizer.param_groups:
        group["lr"] = lr
