"""`Module`: a piece of a network that owns parameters and sub-modules, as in PyTorch.

Assigning a `Parameter` or a `Module` to an attribute registers it (in the order assigned), so
`named_parameters()` can list every parameter with a dotted name such as
`transformer.h.0.attn.c_attn.weight`. Attributes are ordinary attributes: a typo is an
AttributeError, not a silent lookup somewhere else.
"""
import contextlib

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module trains: a leaf with requires_grad=True unless told otherwise."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` and define
    `forward`; calling the module calls `forward`."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----- walking the tree ---------------------------------------------------------------

    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every module below it, depth first."""
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (module for _, module in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        """(dotted name, parameter) for every parameter, each once (a parameter shared by
        two modules, like a tied embedding, is listed under its first name)."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self):
        return (param for _, param in self.named_parameters())

    # ----- training state -----------------------------------------------------------------

    def train(self, mode=True):
        """Training mode (dropout on) for this module and all below it; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def zero_grad(self):
        """Forget accumulated gradients (sets each `.grad` to None, as PyTorch does by default)."""
        for param in self.parameters():
            param.grad = None

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter; returns self."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def to(self, dtype):
        """Convert every parameter to `dtype` (e.g. np.float64 for a gradient check)."""
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            param.grad = None
        return self

    # ----- saving and loading -------------------------------------------------------------

    def state_dict(self):
        """{dotted name: ndarray} for every parameter (the arrays themselves, not copies)."""
        return {name: param.data for name, param in self.named_parameters()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters of the same names (converted to each parameter's
        dtype). Missing, unexpected and mis-shaped names are reported together in one error;
        with strict=False, missing and unexpected names are returned instead."""
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        misshaped = [f"{name}: expected {params[name].shape}, got {np.shape(value)}"
                     for name, value in state_dict.items()
                     if name in params and np.shape(value) != params[name].shape]
        problems = []
        if misshaped:
            problems.append("mis-shaped: " + _some(misshaped, "; "))
        if strict and missing:
            problems.append("missing: " + _some(missing))
        if strict and unexpected:
            problems.append("unexpected: " + _some(unexpected))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed: "
                             + " | ".join(problems))
        for name, value in state_dict.items():
            if name in params:
                # A row-major copy even of a transposed view (a checkpoint's (in, out) weight):
                # the layout of a fresh parameter, so matrix products take the same BLAS path
                # and round the same way, and a resumed run repeats an uninterrupted one.
                params[name].data = np.array(value, dtype=params[name].dtype, order="C")
        return missing, unexpected

    # ----- printing -----------------------------------------------------------------------

    def extra_repr(self):
        """The part inside the parentheses, e.g. `in_features=4, out_features=2`."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ")
                 for name, module in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


@contextlib.contextmanager
def evaluating(module):
    """Evaluation mode (dropout off) inside the block, the module's previous mode after it,
    also when the block raises:

        with evaluating(model), tt.no_grad():
            logits, _ = model(idx)
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class ModuleList(Module):
    """A list of modules, registered as `0`, `1`, ... (so names read `h.0.attn...`)."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        return ModuleList(items[index]) if isinstance(index, slice) else items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after another: Sequential(a, b)(x) == b(a(x))."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


def _some(names, separator=", ", shown=5):
    """The first `shown` names and how many more: an error about a 12-layer model stays
    readable."""
    more = f"{separator}... ({len(names) - shown} more)" if len(names) > shown else ""
    return separator.join(names[:shown]) + more
