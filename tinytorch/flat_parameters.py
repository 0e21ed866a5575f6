"""One contiguous array for a group of parameters, one for their gradients and one for each
optimizer state: an optimizer step becomes a few passes over one long array instead of a
dozen small NumPy calls per parameter (for the 52 parameters of a 4-layer GPT, AdamW's step
takes 1.0 ms instead of 1.4).

    flat = FlatParameters([w1, b1, w2, b2])      # each p.data is now a view into flat.data
    loss.backward()
    flat.gather(state)                           # each p.grad copied into flat.grad
    for data, grad, (m,) in flat.runs([w1, b1, w2, b2], state, ["exp_avg"]):
        ...                                      # one run: all four parameters at once

The parameters lie end to end in the order given (no padding), each a C-contiguous view of its
stretch of `data`. `gather()`, which the optimizer calls at the start of every step, copies
each parameter's gradient into its stretch of `grad`, so the gradients of consecutive
parameters are consecutive in one array too; `p.grad` itself stays the array backward gave
it, as in PyTorch, so a gradient the caller kept is never overwritten by a later step.
Optimizer state (Adam's moments, SGD's momentum) is laid out like the parameters
(`state_view`).

Whatever gives a parameter a new array takes it out of the buffer: `Module.load_state_dict`,
`Module.to(dtype)`, `p.data = ...` by hand, `Optimizer.load_state_dict`. `gather()` finds
each of those (one identity check per array) and copies the new values into the parameter's
stretch, making the parameter a view again; a new dtype or shape lays the buffers out afresh.
So the optimizer always updates the live parameters, whatever replaced their arrays. (A
parameter given to two optimizers belongs to whichever gathered it last: correct, but copied
at every step.) An array taken from `p.data` before the optimizer was made is not the
parameter any more: read `p.data` again.

A group whose parameters do not share one floating-point dtype cannot live in one array: it
stays as it is (`flat` is False) and `runs` gives each parameter its own arrays.
"""
import numpy as np


class FlatParameters:
    """`params` (a list of tensors) laid end to end in `data`, their gradients in `grad`."""

    def __init__(self, params):
        self.params = list(params)
        self.index = {p: i for i, p in enumerate(self.params)}
        self.state = {}                 # optimizer state name -> flat array, like `data`
        self.lay_out({})

    def lay_out(self, state):
        """Fresh buffers in the parameters' current dtype and shapes; copy every parameter,
        its gradient and its arrays in `state` ({param: {name: array}}) in, and make each a
        view of its stretch."""
        dtypes = {p.data.dtype for p in self.params}
        self.flat = len(dtypes) == 1 and next(iter(dtypes)).kind == "f"
        if not self.flat:
            self.state = {}
            for p in self.params:             # each keeps arrays of its own, in its dtype
                for name, value in state.get(p, {}).items():
                    if isinstance(value, np.ndarray) and value.dtype != p.data.dtype:
                        state[p][name] = value.astype(p.data.dtype)
            return
        self.dtype = dtypes.pop()
        self.shapes = [p.data.shape for p in self.params]
        self.bounds = np.cumsum([0] + [p.data.size for p in self.params]).tolist()
        self.data = np.empty(self.bounds[-1], self.dtype)
        self.grad = np.zeros(self.bounds[-1], self.dtype)
        self.state = {name: np.zeros(self.bounds[-1], self.dtype) for name in self.state}
        self.views = {"data": self._views(self.data), "grad": self._views(self.grad)}
        self.views.update({name: self._views(array) for name, array in self.state.items()})
        for i, p in enumerate(self.params):
            self._gather_one(i, p, state.get(p, {}))

    def _views(self, flat):
        """Each parameter's stretch of `flat`, shaped like the parameter."""
        return [flat[start:stop].reshape(shape)
                for start, stop, shape in zip(self.bounds, self.bounds[1:], self.shapes)]

    def state_view(self, name, param):
        """`param`'s stretch of the state buffer `name`, zeros when the buffer is new: what the
        optimizer keeps as that parameter's state. A group that is not flat gets a fresh
        array of zeros."""
        if not self.flat:
            return np.zeros(param.shape, param.dtype)
        view = self._state_views(name)[self.index[param]]
        view.fill(0)              # it may hold what a state replaced by load_state_dict left
        return view

    def _state_views(self, name):
        """The views of state buffer `name`, made (zeros) if it is new."""
        if name not in self.state:
            self.state[name] = np.zeros(self.bounds[-1], self.dtype)
            self.views[name] = self._views(self.state[name])
        return self.views[name]

    def gather(self, state):
        """Copy every gradient into `grad`, and make every parameter's data and arrays in
        `state` ({param: {name: array}}) views of the buffers again, copying in whatever
        replaced them."""
        if not self.flat or any(p.data.dtype != self.dtype or p.data.shape != shape
                                for p, shape in zip(self.params, self.shapes)):
            self.lay_out(state)               # Module.to(dtype), say: start afresh
            return
        for i, p in enumerate(self.params):
            self._gather_one(i, p, state.get(p, {}))

    def _gather_one(self, i, p, param_state):
        data, grad = self.views["data"][i], self.views["grad"][i]
        if p.data is not data:
            data[...] = p.data
            p.data = data
        if p.grad is not None:
            grad[...] = p.grad                # p.grad stays the caller's array
        for name, value in param_state.items():      # arrays, and numbers such as "step"
            if isinstance(value, np.ndarray) and value.shape == self.shapes[i]:
                view = self._state_views(name)[i]
                if value is not view:
                    view[...] = value
                    param_state[name] = view

    def runs(self, params, state, names):
        """For `params` (some of this group's, in group order, each with a gradient, after
        gather()): (data, grad, [state arrays named by `names`]) for each run of parameters
        that lie side by side, as flat stretches of the buffers covering the whole run; one
        run per parameter, its own arrays, when the group is not flat."""
        if not self.flat:
            for p in params:
                yield p.data, p.grad, [state[p][name] for name in names]
            return
        indices = [self.index[p] for p in params]
        first = 0
        for k in range(1, len(indices) + 1):
            if k == len(indices) or indices[k] != indices[k - 1] + 1:
                start, stop = self.bounds[indices[first]], self.bounds[indices[k - 1] + 1]
                yield (self.data[start:stop], self.grad[start:stop],
                       [self.state[name][start:stop] for name in names])
                first = k
