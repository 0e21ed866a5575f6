"""LoRA: fine-tune a big frozen Linear through a small low-rank correction beside it.

Full fine-tuning updates every weight W (out, in) of the model. LoRA (Hu et al., 2021) freezes
W and learns a correction of rank r instead, written as two thin matrices:

    y = x W^T + b  +  (alpha / r) * (x A^T) B^T          A (r, in), B (out, r), r << in, out

    x (..., in) -> x A^T (..., r) -> * alpha/r -> @ B^T (..., out) -> added to the frozen output

Only A and B train: r * (in + out) numbers instead of in * out (GPT-2's c_attn, 768 -> 2304,
has 1.8M weights; its rank-4 correction has 12k). B starts at zero, so the wrapped model
starts out computing exactly what the pretrained one did, and A starts random (as a Linear's
weight would) so that B's first gradient, which is (alpha/r) G^T (x A^T), is not zero either.
alpha / r keeps the size of the correction about the same when r changes, so a learning rate
tuned for one rank works for another.

After training, (alpha/r) B A is an ordinary (out, in) matrix: `merge` adds it into W, and
the model is a plain GPT-2 again (same speed, same checkpoint format) that Hugging Face loads.

    model = GPT.from_pretrained("../shared/data/gpt2-tiny")
    apply_lora(model, rank=4, alpha=8, generator=np.random.default_rng(0))
    trainable, total = count_parameters(model)       # only the A's and B's train
    optimizer = tt.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ...                                              # train as usual
    merge_lora(model).save_pretrained("out")         # an ordinary GPT-2 checkpoint

The wrapped layers keep their place in the model (`transformer.h.0.attn.c_attn` becomes a
LoRALinear holding `base`, `lora_A` and `lora_B`), so the model's own code, which calls
`self.c_attn(x, functional)`, runs them unchanged; and a kernel that takes a layer's weights
(the MLP's) asks each layer for them with `affine()`, which here gives W + (alpha / r) B A.
"""
import math

import numpy as np

import tinytorch.functional as F
from tinytorch import nn

from ..seeds import stream

# Every projection of a block: attention's q/k/v (c_attn) and o (c_proj), the MLP's gate
# (SwiGLU's c_gate: Llama, Qwen), up (c_fc) and down (c_proj); a layer a model lacks is skipped.
DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_gate", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    """y = x W^T + b + (alpha / r) * (x A^T) B^T, wrapping a frozen nn.Linear.

    base       the nn.Linear (out, in) to adapt; its weight and bias are frozen here
    rank       r, the rank of the correction: 1 <= r <= min(in, out)
    alpha      the correction is scaled by alpha / r
    generator  an np.random.Generator for A's initial values (reproducible when given)

    lora_A (r, in) starts Kaiming-uniform, as nn.Linear's weight does; lora_B (out, r) starts
    at zero, so at first the layer computes exactly what `base` does.
    """

    def __init__(self, base, rank, alpha, generator=None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        check_rank(rank, base.in_features, base.out_features)
        self.rank, self.alpha = int(rank), alpha
        # A Python float: a NumPy float64 scalar would turn a float32 layer's output float64.
        self.scaling = float(alpha) / int(rank)
        base.requires_grad_(False)
        self.base = base
        dtype = base.weight.dtype
        self.lora_A = nn.Parameter(np.empty((self.rank, base.in_features), dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5), generator=generator)
        self.lora_B = nn.Parameter(np.zeros((base.out_features, self.rank), dtype))

    # The wrapped layer's sizes and (frozen) weights, read-only, so that code that inspects a
    # Linear can inspect this one too. They are properties, not attributes: assigning them
    # would register the parameters a second time under a second name.
    @property
    def in_features(self):
        return self.base.in_features

    @property
    def out_features(self):
        return self.base.out_features

    @property
    def weight(self):
        return self.base.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x, functional=F):
        """x (..., in) Tensor -> (..., out): base(x, functional) + (alpha / r) * (x A^T) B^T.

        functional is tinytorch.functional or its composed twin: call the base and the linear
        maps through it (functional.linear). Tensor ops only (no .data), so that gradients reach
        lora_A and lora_B; self.scaling (alpha / r) is a Python float, so float32 stays float32.
        """
        # BEGIN EXERCISE lora_forward: base(x, functional) + scaling * linear(linear(x, A), B)
        frozen = self.base(x, functional)                                # (..., out)
        down = functional.linear(x, self.lora_A)                         # (..., r)
        # Scaling the rank-r activations rather than the output: r numbers per row, not out.
        return frozen + functional.linear(down * self.scaling, self.lora_B)   # (..., out)
        # END EXERCISE lora_forward

    def affine(self):
        """(weight, bias) that compute what this layer does, for a kernel that takes a layer's
        weights: W + (alpha / r) B A as a Tensor built from lora_A and lora_B (so their
        gradients flow), and the base's bias. The fused MLP uses it."""
        weight = self.base.weight + (self.lora_B @ self.lora_A) * self.scaling
        return weight, self.base.bias

    def delta_weight(self):
        """(alpha / r) B A as an ndarray (out, in): what training has added to W."""
        return self.scaling * (self.lora_B.data @ self.lora_A.data)

    def merge(self):
        """A plain nn.Linear computing the same function: weight W + (alpha / r) B A and the
        same bias, in W's dtype (copies, so the new layer shares no arrays with this one,
        and this layer and its base stay as they were). Its parameters are frozen or not as
        the base's are (`requires_grad_()` unfreezes them), and it is in training mode or
        not as this layer is."""
        # BEGIN EXERCISE lora_merge: a new Linear with weight W + (alpha / r) B A, the same bias
        base = self.base
        merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                           dtype=base.weight.dtype)
        # the sum is a new array already: astype only casts if the dtype differs
        merged.weight.data = (base.weight.data + self.delta_weight()).astype(base.weight.dtype,
                                                                             copy=False)
        merged.weight.requires_grad = base.weight.requires_grad
        if base.bias is not None:
            merged.bias.data = base.bias.data.copy()
            merged.bias.requires_grad = base.bias.requires_grad
        merged.train(self.training)
        return merged
        # END EXERCISE lora_merge

    def extra_repr(self):
        return f"rank={self.rank}, alpha={self.alpha}"


def check_rank(rank, in_features, out_features):
    """A ValueError a learner can act on when `rank` cannot fit a Linear(in, out): B A has
    rank at most min(in, out), so a larger r only adds parameters that cannot help."""
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"LoRA rank must be a positive integer, got {rank!r}")
    if rank > min(in_features, out_features):
        raise ValueError(f"LoRA rank {rank} is larger than the layer allows: a Linear with "
                         f"in_features={in_features} and out_features={out_features} has rank "
                         f"at most {min(in_features, out_features)}")


def apply_lora(model, rank=4, alpha=8, targets=DEFAULT_TARGETS, generator=None):
    """Freeze every parameter of `model`, then replace each nn.Linear whose dotted name ends
    with one of `targets` by a LoRALinear; returns the model (modified in place).

    Only the LoRA matrices are trainable afterwards (callers unfreeze e.g. a classifier head
    themselves). A target matches whole name parts: "c_proj" matches `attn.c_proj` and
    `mlp.c_proj`, "attn.c_proj" only the first. Every layer is checked before anything
    changes, so an error (no layer matches, a rank too large) leaves the model as it was.
    """
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    modules = dict(model.named_modules())
    chosen = [name for name, module in modules.items()
              if isinstance(module, nn.Linear)
              and any(name == target or name.endswith("." + target) for target in targets)]
    if not chosen:
        wrapped = any(isinstance(module, LoRALinear) for module in modules.values())
        raise ValueError(f"no nn.Linear in {type(model).__name__} has a name ending with one "
                         f"of {targets}" + ("; the model already has LoRA layers" if wrapped
                                            else ""))
    for name in chosen:
        try:
            check_rank(rank, modules[name].in_features, modules[name].out_features)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None

    model.requires_grad_(False)
    for name in chosen:
        parent_name, _, child_name = name.rpartition(".")
        # Module.__setattr__ registers the new module under the old one's name.
        setattr(modules[parent_name], child_name,
                LoRALinear(modules[name], rank, alpha, generator=generator))
    return model


def lora_alpha(rank, alpha=None):
    """The scale's numerator for adapters of rank `rank`: `alpha` if given, else twice the
    rank (alpha / r = 2 whatever the rank, so a learning rate tuned for one rank suits
    another)."""
    return 2 * rank if alpha is None else alpha


def add_lora(model, rank, alpha=None, seed=None):
    """How the fine-tuning commands add LoRA: `apply_lora` on every block's attention and MLP
    layers (DEFAULT_TARGETS) with alpha = lora_alpha(rank, alpha), lora_A drawn from the "lora"
    stream of `seed` (gpt.seeds). Everything else is frozen (a classifier unfreezes its head
    itself). Returns the model."""
    return apply_lora(model, rank=rank, alpha=lora_alpha(rank, alpha),
                      generator=stream("lora", seed))


def merge_lora(model):
    """Replace every LoRALinear in `model` by its merged plain nn.Linear (in place); returns
    the model. The merged model's parameters have the plain GPT-2 names, so `save_pretrained`
    writes an ordinary checkpoint HF loads. (A bare LoRALinear gives its merged Linear.)"""
    if isinstance(model, LoRALinear):
        return model.merge()
    modules = dict(model.named_modules())
    for name, module in modules.items():
        if isinstance(module, LoRALinear):
            parent_name, _, child_name = name.rpartition(".")
            setattr(modules[parent_name], child_name, module.merge())
    return model


def count_parameters(model):
    """(trainable, total) numbers of parameter elements, each parameter counted once (a tied
    embedding and LM head is one parameter)."""
    trainable = total = 0
    for param in model.parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total
