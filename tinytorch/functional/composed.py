"""The composed twins: the same functions as `tinytorch.functional`, built from primitive ops.

Read these first: each line is one op you can step through, and `print(tensor)` shows it.
The fused versions compute the same numbers (tests check both directions to 1e-9 in float64)
as one graph node each, with a backward derived by hand, which is faster and needs less memory.
Both twins check their arguments with the same code (checks.py), so they fail alike.

Shapes: N rows, C classes or channels, F hidden features, B batch, H heads, T time, D head size.
"""
import numpy as np

from ..creation import cat, stack, tensor
from . import checks
from .activations import GELU_A, GELU_C
from .attention import causal_mask
from .dropout import keep_mask

__all__ = [
    "softmax", "log_softmax", "cross_entropy", "gelu", "silu", "layer_norm", "rms_norm",
    "linear", "embedding", "dropout", "scaled_dot_product_attention", "rotary_embedding",
    "gelu_mlp", "swiglu_mlp", "sequence_log_prob", "dpo_loss",
]


def softmax(x, dim):
    """softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m) along `dim`, m = max_j x_j; any shape."""
    dim = checks.check_dim("softmax", x, dim)
    # The max is a constant shift (softmax does not change under it), so it is detached.
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    exps = shifted.exp()
    return exps / exps.sum(dim=dim, keepdim=True)


def log_softmax(x, dim):
    """log softmax(x)_i = (x_i - m) - log sum_j e^(x_j - m) along `dim`, m = max_j x_j."""
    dim = checks.check_dim("log_softmax", x, dim)
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    """loss_n = -log_softmax(logits_n)[target_n] for logits (N, C) and integer targets (N,);
    rows whose target is ignore_index count 0. "mean" divides the sum by the rows that count
    (0 when none does), "sum" adds them, "none" returns the N losses."""
    target = checks.as_array(target)
    checks.check_cross_entropy(logits, target, reduction)
    valid = checks.check_targets(target, logits.shape[1], ignore_index)     # (N,) bool
    log_probs = log_softmax(logits, dim=1)                                  # (N, C)
    picked = log_probs[np.arange(len(target)), np.where(valid, target, 0)]   # (N,)
    row_losses = -(picked * valid.astype(logits.dtype))
    if reduction == "none":
        return row_losses
    total = row_losses.sum()
    return total / max(int(valid.sum()), 1) if reduction == "mean" else total


def gelu(x, approximate="tanh"):
    """GPT-2's GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise."""
    checks.check_gelu(approximate)
    return 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x ** 3)).tanh())


def silu(x):
    """SiLU (swish), x * sigmoid(x) = x / (1 + e^-x), elementwise."""
    return x * x.sigmoid()


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` axes
    of x (..., *normalized_shape); var is the biased variance (divided by the count), weight
    and bias (normalized_shape) or None."""
    shape = checks.check_normalized_shape("layer_norm", x, normalized_shape, weight=weight,
                                          bias=bias)
    eps = checks.check_eps("layer_norm", eps)
    dims = tuple(range(-len(shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    variance = x.var(dim=dims, keepdim=True, correction=0)
    xhat = (x - mean) / (variance + eps).sqrt()
    if weight is not None:
        xhat = xhat * weight
    if bias is not None:
        xhat = xhat + bias
    return xhat


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing `normalized_shape` axes of
    x (..., *normalized_shape); weight (normalized_shape) or None; eps None is the machine
    epsilon of x's dtype, as in PyTorch."""
    shape = checks.check_normalized_shape("rms_norm", x, normalized_shape, weight=weight)
    eps = checks.check_eps("rms_norm", np.finfo(x.dtype).eps if eps is None else eps)
    dims = tuple(range(-len(shape), 0))
    mean_square = (x * x).mean(dim=dims, keepdim=True)
    xhat = x / (mean_square + eps).sqrt()
    return xhat * weight if weight is not None else xhat


def linear(x, weight, bias=None):
    """x @ weight^T + bias for x (..., in), weight (out, in), bias (out,) or None."""
    checks.check_linear("linear", x, weight, bias)
    out = x @ weight.T
    return out + bias if bias is not None else out


def embedding(ids, weight):
    """weight[ids]: the rows of weight (V, C) picked by integer ids (any shape),
    (*ids.shape, C)."""
    ids = checks.as_array(ids)
    checks.check_embedding(ids, weight)
    return weight[ids]


def dropout(x, p=0.5, training=True, generator=None):
    """x * keep / (1 - p) with keep True with probability 1 - p per element (inverted
    dropout: the expected value stays x); x itself when not training or p == 0."""
    p = checks.check_probability("dropout", "p", p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = keep_mask(x.shape, p, generator)
    return x * tensor(keep.astype(x.dtype)) * (1.0 / (1.0 - p))


def scaled_dot_product_attention(q, k, v, is_causal=False, dropout_p=0.0, generator=None,
                                 enable_gqa=False, scale=None):
    """dropout(softmax(q k^T * scale + mask)) @ v for q (B, Hq, Tq, D), k (B, Hkv, Tk, D),
    v (B, Hkv, Tk, Dv) -> (B, Hq, Tq, Dv); scale is 1/sqrt(D) unless given.

    is_causal masks the future, aligned to the end (query i sees keys up to Tk - Tq + i).
    enable_gqa: each key/value head serves Hq / Hkv query heads (`repeat_kv`).
    """
    checks.check_attention(q, k, v, is_causal, enable_gqa)
    dropout_p = checks.check_probability("scaled_dot_product_attention", "dropout_p",
                                         dropout_p, upper_inclusive=False)
    if enable_gqa:
        n_rep = q.shape[-3] // k.shape[-3]
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)                  # (B, Hq, Tk, D)
    return attend(q, k, v, is_causal, dropout_p, generator, checks.attention_scale(q, scale))


def attend(q, k, v, is_causal, dropout_p, generator, scale):
    """The attention itself, for q (B, H, Tq, D) and k, v (B, H, Tk, D) with as many heads:
    dropout(softmax(q k^T * scale + causal mask)) @ v, (B, H, Tq, Dv).

    With is_causal, query i sees keys up to Tk - Tq + i (`causal_mask` gives True where it
    must not look; fill those scores with -inf before the softmax). The attention weights
    then go through `dropout(weights, dropout_p, training=dropout_p > 0, generator=generator)`
    before @ v, as the fused kernel does. Scores in the hundreds must not overflow (`softmax`
    here subtracts each row's max first). Built from Tensor ops only (no .data), so the engine
    differentiates it; float32 stays float32 (`scale` is a Python float).
    """
    # BEGIN EXERCISE causal_attention: q k^T * scale, mask the future (causal_mask), softmax, dropout, @ v
    scores = (q * scale) @ k.transpose(-2, -1)                           # (B, H, Tq, Tk)
    if is_causal:
        scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
    weights = softmax(scores, dim=-1)
    weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
    return weights @ v
    # END EXERCISE causal_attention


def repeat_kv(x, n_rep):
    """x (..., Hkv, T, D) -> (..., Hkv * n_rep, T, D): each key/value head repeated n_rep times
    in place, so that head h of the result is head h // n_rep of x (Hugging Face's repeat_kv,
    PyTorch's repeat_interleave along the heads)."""
    # BEGIN EXERCISE repeat_kv: (..., Hkv, T, D) -> (..., Hkv * n_rep, T, D), head h = x's head h // n_rep; tensor ops only
    *lead, n_kv_heads, length, head_size = x.shape
    repeated = x.unsqueeze(-3).expand(*lead, n_kv_heads, n_rep, length, head_size)
    return repeated.reshape(*lead, n_kv_heads * n_rep, length, head_size)
    # END EXERCISE repeat_kv


def rotary_embedding(x, cos, sin):
    """x * cos + rotate_half(x) * sin for x (B, H, T, D) and cos, sin (T, D) (or any one shape
    broadcasting to x): each pair of dimensions (i, i + D/2) turned by its angle."""
    checks.check_rotary(x, cos, sin)
    return x * cos + rotate_half(x) * sin


def rotate_half(x):
    """[-x2, x1] for x = [x1, x2] split in halves along the last axis."""
    x1, x2 = x.split(x.shape[-1] // 2, dim=-1)
    return cat([-x2, x1], dim=-1)


def gelu_mlp(x, w_fc, b_fc, w_proj, b_proj):
    """GPT-2's MLP: linear(gelu(linear(x, w_fc, b_fc)), w_proj, b_proj) for x (..., C),
    w_fc (F, C), w_proj (C_out, F); either bias may be None."""
    checks.check_gelu_mlp(x, w_fc, b_fc, w_proj, b_proj)
    hidden = gelu(linear(x, w_fc, b_fc))                                 # (..., F)
    return linear(hidden, w_proj, b_proj)


def swiglu_mlp(x, w_gate, w_up, w_down, b_gate=None, b_up=None, b_down=None):
    """Llama's MLP: linear(silu(linear(x, w_gate)) * linear(x, w_up), w_down) for x (..., C),
    w_gate and w_up (F, C), w_down (C_out, F); biases optional. The gate decides, per
    feature, how much of the up projection passes."""
    checks.check_swiglu_mlp(x, w_gate, w_up, w_down, b_gate, b_up, b_down)
    gated = silu(linear(x, w_gate, b_gate)) * linear(x, w_up, b_up)        # (..., F)
    return linear(gated, w_down, b_down)


def sequence_log_prob(logits, target, ignore_index=-100):
    """sum over t of log_softmax(logits[b, t])[target[b, t]] for logits (B, T, V) and integer
    targets (B, T), positions whose target is ignore_index left out: (B,)."""
    target = checks.as_array(target)
    valid = checks.check_sequence_log_prob(logits, target, ignore_index)     # (B, T) bool
    B, T, _ = logits.shape
    log_probs = log_softmax(logits, dim=-1)                                  # (B, T, V)
    rows, positions = np.arange(B)[:, None], np.arange(T)[None, :]
    picked = log_probs[rows, positions, np.where(valid, target, 0)]          # (B, T)
    return (picked * valid.astype(logits.dtype)).sum(dim=1)


def dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
             reference_rejected_logps, beta=0.1, reduction="mean"):
    """-log sigmoid(beta * ((pc - rc) - (pr - rr))) per pair, each argument (B,); the mean
    over the pairs ("mean"), their sum ("sum") or the B losses ("none")."""
    (pc, pr, rc, rr), beta = checks.check_dpo(
        (policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
         reference_rejected_logps), beta, reduction)
    margins = beta * ((pc - rc) - (pr - rr))          # chosen reward - rejected reward, (B,)
    losses = -log_sigmoid(margins)
    if reduction == "none":
        return losses
    total = losses.sum()
    return total / max(len(losses), 1) if reduction == "mean" else total


def log_sigmoid(x):
    """log sigmoid(x) = log(e^x / (e^0 + e^x)): the log-softmax of the pair (0, x), taken at
    x. The log-softmax subtracts the larger of the two first, so no e^x overflows (the direct
    sigmoid(x).log() gives -inf for x = -200 in float32), and its gradient is right at 0."""
    zeros = tensor(np.zeros(x.shape, x.dtype))
    return log_softmax(stack([zeros, x], dim=-1), dim=-1)[..., 1]
