"""Argument checks shared by both twins of every function.

`tinytorch.functional.softmax` and `tinytorch.functional.composed.softmax` (and every other
pair) call the same check here before computing anything, so a mistake gives the same
exception with the same message whichever path runs, and names the function, the argument
and the shapes involved. The fused kernels behind them (`Function.forward`) trust their
arguments: a check is done once, here, not again in forward.
"""
import math

import numpy as np

from ..tensor import Tensor


def as_array(value):
    """Integer inputs (ids, targets) as plain arrays: they are data, not graph nodes."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def check_dim(function, x, dim):
    """`dim` as an axis of x (at least 1-D), counted from the end if negative (as in PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{function}: dim must be an int, not {dim!r}")
    if x.ndim == 0:
        raise ValueError(f"{function} needs a tensor of at least one dimension, got a scalar")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"{function}: dim {dim} is out of range for a tensor of shape "
                         f"{tuple(x.shape)} (expected -{x.ndim} to {x.ndim - 1})")
    return int(dim)


def check_probability(function, name, p, upper_inclusive=True):
    """A probability p in [0, 1] (or [0, 1) if not upper_inclusive), as a Python float."""
    p = float(p)
    if not (0.0 <= p <= 1.0 if upper_inclusive else 0.0 <= p < 1.0):
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ValueError(f"{function}: {name} must be in {interval}, got {p}")
    return p


def check_targets(target, n_classes, ignore_index, function="cross_entropy"):
    """Targets must be integers in [0, n_classes) or ignore_index; returns the bool mask of
    the targets that count."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"{function} targets must be integer class ids, not {target.dtype}")
    valid = target != ignore_index
    bad = target[valid & ((target < 0) | (target >= n_classes))]
    if bad.size:
        raise ValueError(f"{function}: target {int(bad[0])} is outside the {n_classes} "
                         f"classes (and is not ignore_index={ignore_index})")
    return valid


def check_cross_entropy(logits, target, reduction):
    """logits (N, C), integer targets (N,) in range, a known reduction."""
    check_reduction("cross_entropy", reduction)
    if logits.ndim != 2 or target.shape != tuple(logits.shape[:1]):
        raise ValueError(
            f"cross_entropy wants logits (N, C) and targets (N,), got {tuple(logits.shape)} "
            f"and {target.shape}; flatten first: logits.reshape(-1, C), targets.reshape(-1)")


def check_reduction(function, reduction):
    """One of the reductions PyTorch's losses take."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{function}: reduction must be 'mean', 'sum' or 'none', "
                         f"not {reduction!r}")


def check_sequence_log_prob(logits, target, ignore_index):
    """logits (B, T, V) and integer targets (B, T), each a token id or ignore_index; returns
    the bool mask (B, T) of the targets that count."""
    if logits.ndim != 3 or target.shape != tuple(logits.shape[:2]):
        raise ValueError(f"sequence_log_prob wants logits (B, T, V) and targets (B, T), got "
                         f"{tuple(logits.shape)} and {target.shape}")
    return check_targets(target, logits.shape[2], ignore_index, "sequence_log_prob")


DPO_ARGUMENTS = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps",
                 "reference_rejected_logps")


def check_dpo(log_probs, beta, reduction="mean", function="dpo_loss"):
    """The four sequence log-probabilities of `dpo_loss` (or `dpo_rewards`), each (B,) of one
    shape and one floating dtype (a float64 reference would turn a float32 policy's loss into
    float64), as Tensors (an array becomes a constant Tensor); beta a finite number > 0, as a
    Python float; a known reduction. Returns (tensors, beta)."""
    tensors = [value if isinstance(value, Tensor) else Tensor(np.asarray(value))
               for value in log_probs]
    described = ", ".join(f"{name} {tuple(t.shape)} {t.dtype}"
                          for name, t in zip(DPO_ARGUMENTS, tensors))
    if any(t.ndim != 1 or t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"{function} wants four log-probabilities of one shape (B,), one per "
                         f"pair; got {described}")
    if any(t.dtype.kind != "f" or t.dtype != tensors[0].dtype for t in tensors):
        raise TypeError(f"{function} wants four log-probabilities of one floating dtype; got "
                        f"{described}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(beta) < math.inf:
        raise ValueError(f"{function}: beta must be a finite number > 0, got {beta!r}")
    check_reduction(function, reduction)
    return tensors, float(beta)


def check_ids(ids, n_rows):
    """Ids must be integers in [0, n_rows); name the first one that is not."""
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding ids must be integers, not {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_rows):
        bad = ids[(ids < 0) | (ids >= n_rows)].flat[0]
        raise IndexError(f"token id {int(bad)} is outside the vocabulary of size {n_rows}")


def check_embedding(ids, weight):
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a table (V, C), got {tuple(weight.shape)}")
    check_ids(ids, weight.shape[0])


def check_gelu(approximate):
    if approximate != "tanh":
        raise ValueError(f"gelu: only approximate='tanh' (GPT-2's GELU) is implemented, "
                         f"not {approximate!r}")


def check_normalized_shape(function, x, normalized_shape, **params):
    """`normalized_shape` (an int or a tuple of ints) as a tuple that x ends in; each of
    `params` (weight, bias; None allowed) must have exactly that shape, as in PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    if not shape or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
        raise ValueError(f"{function}: normalized_shape must be positive ints, "
                         f"got {normalized_shape!r}")
    shape = tuple(int(n) for n in shape)
    if tuple(x.shape[len(x.shape) - len(shape):]) != shape:
        raise ValueError(f"{function} over {shape} needs an input ending in it, "
                         f"got {tuple(x.shape)}")
    for name, param in params.items():
        if param is not None and tuple(param.shape) != shape:
            raise ValueError(f"{function}: {name} has shape {tuple(param.shape)}, but "
                             f"normalized_shape is {shape}")
    return shape


def check_eps(function, eps):
    """eps as a Python float (a NumPy float64 scalar would turn float32 into float64)."""
    eps = float(eps)
    if not eps >= 0.0:
        raise ValueError(f"{function}: eps must be >= 0, got {eps}")
    return eps


def check_linear(function, x, weight, bias, weight_name="weight", bias_name="bias"):
    """x (..., in), weight (out, in), bias (out,) or None; returns out."""
    check_layer(function, weight, bias, weight_name, bias_name)
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{function}: input {tuple(x.shape)} has "
                         f"{x.shape[-1] if x.ndim else 0} features but {weight_name} "
                         f"{tuple(weight.shape)} expects {weight.shape[1]}")
    return weight.shape[0]


def check_layer(function, weight, bias, weight_name, bias_name):
    """weight (out, in) and bias (out,) or None."""
    if weight.ndim != 2:
        raise ValueError(f"{function}: {weight_name} must be (out, in), "
                         f"got {tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{function}: {bias_name} {tuple(bias.shape)} does not match "
                         f"{weight_name} {tuple(weight.shape)}: it should be "
                         f"({weight.shape[0]},)")


def check_next_layer(function, hidden, weight, bias, weight_name, bias_name, previous_name):
    """The second layer of an MLP: weight (out, hidden) reads what the first one gives."""
    check_layer(function, weight, bias, weight_name, bias_name)
    if weight.shape[1] != hidden:
        raise ValueError(f"{function}: {weight_name} {tuple(weight.shape)} expects "
                         f"{weight.shape[1]} inputs but {previous_name} gives {hidden}")


def check_gelu_mlp(x, w_fc, b_fc, w_proj, b_proj):
    """x (..., C), w_fc (F, C), b_fc (F,), w_proj (C_out, F), b_proj (C_out,)."""
    hidden = check_linear("gelu_mlp", x, w_fc, b_fc, "w_fc", "b_fc")
    check_next_layer("gelu_mlp", hidden, w_proj, b_proj, "w_proj", "b_proj", "w_fc")


def check_swiglu_mlp(x, w_gate, w_up, w_down, b_gate, b_up, b_down):
    """x (..., C), w_gate and w_up (F, C), w_down (C_out, F), biases to match or None."""
    hidden = check_linear("swiglu_mlp", x, w_gate, b_gate, "w_gate", "b_gate")
    check_linear("swiglu_mlp", x, w_up, b_up, "w_up", "b_up")
    if tuple(w_up.shape) != tuple(w_gate.shape):
        raise ValueError(f"swiglu_mlp: w_gate {tuple(w_gate.shape)} and w_up "
                         f"{tuple(w_up.shape)} must have the same shape")
    check_next_layer("swiglu_mlp", hidden, w_down, b_down, "w_down", "b_down", "w_gate")


def check_rotary(x, cos, sin):
    """x (..., T, D) with D even; cos and sin of one shape and dtype (one table each), ending
    in D and broadcasting to x's shape ((T, D), (1, 1, T, D), (B, 1, T, D), ...)."""
    if x.ndim < 1 or x.shape[-1] % 2:
        raise ValueError(f"rotary_embedding: the last axis of x {tuple(x.shape)} must have an "
                         f"even size (its two halves are rotated as pairs)")
    if tuple(cos.shape) != tuple(sin.shape) or cos.dtype != sin.dtype:
        raise ValueError(f"rotary_embedding: cos {tuple(cos.shape)} {cos.dtype} and sin "
                         f"{tuple(sin.shape)} {sin.dtype} must have the same shape and dtype")
    try:
        fits = np.broadcast_shapes(tuple(x.shape), tuple(cos.shape)) == tuple(x.shape)
    except ValueError:
        fits = False
    if not fits or cos.ndim < 1 or cos.shape[-1] != x.shape[-1]:
        raise ValueError(f"rotary_embedding: cos and sin {tuple(cos.shape)} must end in x's "
                         f"head size {x.shape[-1]} and broadcast to x {tuple(x.shape)}")


def check_attention(q, k, v, is_causal, enable_gqa):
    """q (..., Hq, Tq, D), k (..., Hkv, Tk, D), v (..., Hkv, Tk, Dv). Without enable_gqa
    the leading axes of q and k broadcast (as in a matrix product); with it, they are equal
    but for the heads, and Hq is a multiple of Hkv. Causal needs Tq <= Tk."""
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or k.shape[:-1] != v.shape[:-1] \
            or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention wants q (..., Tq, D), k (..., Tk, D) "
                         f"and v (..., Tk, Dv); got {shapes}")
    if enable_gqa:
        if q.ndim < 3 or q.ndim != k.ndim or q.shape[:-3] != k.shape[:-3] \
                or q.shape[-3] % k.shape[-3]:
            raise ValueError(f"scaled_dot_product_attention with enable_gqa wants q "
                             f"(..., Hq, Tq, D) and k, v (..., Hkv, Tk, D) with the same "
                             f"leading axes and Hq a multiple of Hkv; got {shapes}")
    else:
        try:
            np.broadcast_shapes(tuple(q.shape[:-2]), tuple(k.shape[:-2]))
        except ValueError:
            hint = ("; for grouped-query attention pass enable_gqa=True"
                    if q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] % k.shape[-3] == 0 else "")
            raise ValueError(f"scaled_dot_product_attention: the leading axes of q and k do "
                             f"not broadcast: {shapes}{hint}") from None
    if is_causal and q.shape[-2] > k.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: causal attention with "
                         f"{q.shape[-2]} queries but only {k.shape[-2]} keys would leave the "
                         f"first queries nothing to attend to")


def attention_scale(q, scale):
    """The factor the scores are multiplied by: 1/sqrt(D) unless given (a Python float)."""
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
