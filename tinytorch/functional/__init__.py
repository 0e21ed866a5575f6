"""The neural-network functions, as in `torch.nn.functional`.

Each function here is fused: one `Function` node with a hand-derived, vectorised backward (the
kernels live beside this file). `tinytorch.functional.composed` has twins with the same names
and signatures built from primitive ops, for reading and stepping through. Both twins check
their arguments with the same code (checks.py), so a mistake reads the same on either path.

    import tinytorch.functional as F
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
"""
import numpy as np

from ..tensor import Tensor
from . import checks
from .activations import GELU, LogSoftmax, SiLU, Softmax
from .attention import ScaledDotProductAttention, attention_rows, causal_mask
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import CrossEntropy
from .mlp import GeluMLP, SwiGLUMLP
from .normalization import LayerNorm, RMSNorm
from .preference import DPOLoss, SequenceLogProb
from .rotary import RotaryEmbedding

__all__ = [
    "softmax", "log_softmax", "cross_entropy", "gelu", "silu", "layer_norm", "rms_norm",
    "linear", "embedding", "dropout", "scaled_dot_product_attention", "rotary_embedding",
    "gelu_mlp", "swiglu_mlp", "causal_mask", "attention_weights",
    "sequence_log_prob", "dpo_loss", "dpo_rewards",
]


def softmax(x, dim):
    """e^x / sum e^x along `dim`."""
    return Softmax.apply(x, checks.check_dim("softmax", x, dim))


def log_softmax(x, dim):
    """log softmax(x) along `dim`, computed without forming softmax first (stable)."""
    return LogSoftmax.apply(x, checks.check_dim("log_softmax", x, dim))


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    """Softmax cross-entropy for logits (N, C) and integer targets (N,).

    Targets equal to `ignore_index` are skipped. reduction: "mean" over the targets that are
    not ignored (0, with zero gradients, when all are; PyTorch gives nan), "sum", or "none"
    (one loss per row, 0 for ignored rows).
    """
    target = checks.as_array(target)
    checks.check_cross_entropy(logits, target, reduction)
    checks.check_targets(target, logits.shape[1], ignore_index)
    return CrossEntropy.apply(logits, target, int(ignore_index), reduction)


def gelu(x, approximate="tanh"):
    """GPT-2's GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Only the tanh form exists here, so "tanh" is the default (PyTorch's default is the exact
    erf form, which GPT-2 does not use).
    """
    checks.check_gelu(approximate)
    return GELU.apply(x)


def silu(x):
    """SiLU (swish), x * sigmoid(x): the activation in Llama's SwiGLU MLP."""
    return SiLU.apply(x)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` axes, then scale and shift."""
    shape = checks.check_normalized_shape("layer_norm", x, normalized_shape, weight=weight,
                                          bias=bias)
    return LayerNorm.apply(x, weight, bias, len(shape), checks.check_eps("layer_norm", eps))


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing `normalized_shape` axes, times weight.

    As in PyTorch, eps=None means the machine epsilon of x's dtype (torch.finfo(dtype).eps);
    Llama checkpoints give theirs (rms_norm_eps, e.g. 1e-5 or 1e-6).
    """
    shape = checks.check_normalized_shape("rms_norm", x, normalized_shape, weight=weight)
    eps = checks.check_eps("rms_norm", np.finfo(x.dtype).eps if eps is None else eps)
    return RMSNorm.apply(x, weight, len(shape), eps)


def linear(x, weight, bias=None):
    """x @ weight^T + bias, with weight (out, in) as in PyTorch."""
    checks.check_linear("linear", x, weight, bias)
    return Linear.apply(x, weight, bias)


def embedding(ids, weight):
    """Rows of `weight` (V, C) picked by integer `ids` (any shape): (*ids.shape, C)."""
    ids = checks.as_array(ids)
    checks.check_embedding(ids, weight)
    return Embedding.apply(ids, weight)


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout); the identity when not training or p == 0. `generator` makes it reproducible."""
    p = checks.check_probability("dropout", "p", p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return Dropout.apply(x, p, generator)


def scaled_dot_product_attention(q, k, v, is_causal=False, dropout_p=0.0, generator=None,
                                 enable_gqa=False, scale=None):
    """softmax(q k^T * scale) v for q (B, Hq, Tq, D) and k, v (B, Hkv, Tk, D); scale is
    1/sqrt(D) unless given.

    With is_causal, query i sees keys up to Tk - Tq + i: the mask is aligned to the end, as a
    KV cache needs (PyTorch aligns it to the start). dropout_p applies to the weights.
    enable_gqa (grouped-query attention): query head h reads key/value head h // (Hq / Hkv);
    Hkv = 1 is multi-query attention. Without it, the leading axes of q and k broadcast.
    """
    checks.check_attention(q, k, v, is_causal, enable_gqa)
    dropout_p = checks.check_probability("scaled_dot_product_attention", "dropout_p",
                                         dropout_p, upper_inclusive=False)
    return ScaledDotProductAttention.apply(q, k, v, bool(is_causal), dropout_p, generator,
                                           bool(enable_gqa), checks.attention_scale(q, scale))


def attention_weights(q, k, is_causal=False, enable_gqa=False, scale=None):
    """The attention weights softmax(q k^T * scale + mask) (B, Hq, Tq, Tk) for q (B, Hq, Tq, D)
    and k (B, Hkv, Tk, D), as `scaled_dot_product_attention` computes them (by the same code)
    for the same arguments; no dropout and no graph (a tensor that requires no gradient). For
    pictures: row i of head h is how much query i looks at each key."""
    checks.check_attention(q, k, k, is_causal, enable_gqa)
    _, att = attention_rows(checks.as_array(q), checks.as_array(k), bool(is_causal),
                            bool(enable_gqa),
                            checks.attention_scale(q, scale))         # (..., Hkv, G*Tq, Tk)
    return Tensor(att.reshape(q.shape[:-1] + k.shape[-2:-1]) if enable_gqa else att)


def rotary_embedding(x, cos, sin):
    """Rotary position embedding in Hugging Face's layout: x * cos + rotate_half(x) * sin for
    x (B, H, T, D) and cos, sin (T, D) or anything of one shape that broadcasts to x
    ((B, 1, T, D) for per-row positions). rotate_half([x1, x2]) = [-x2, x1]: dimensions i and
    i + D/2 form a pair. The tables come from gpt.positions.rotary_tables."""
    checks.check_rotary(x, cos, sin)
    return RotaryEmbedding.apply(x, cos, sin)


def gelu_mlp(x, w_fc, b_fc, w_proj, b_proj):
    """GPT-2's MLP as one node: gelu(x @ w_fc^T + b_fc) @ w_proj^T + b_proj for x (..., C),
    w_fc (F, C), w_proj (C_out, F); either bias may be None."""
    checks.check_gelu_mlp(x, w_fc, b_fc, w_proj, b_proj)
    return GeluMLP.apply(x, w_fc, b_fc, w_proj, b_proj)


def swiglu_mlp(x, w_gate, w_up, w_down, b_gate=None, b_up=None, b_down=None):
    """Llama's MLP as one node: (silu(x @ w_gate^T + b_gate) * (x @ w_up^T + b_up)) @ w_down^T
    + b_down for x (..., C), w_gate and w_up (F, C), w_down (C_out, F); biases optional."""
    checks.check_swiglu_mlp(x, w_gate, w_up, w_down, b_gate, b_up, b_down)
    return SwiGLUMLP.apply(x, w_gate, w_up, w_down, b_gate, b_up, b_down)


def sequence_log_prob(logits, target, ignore_index=-100):
    """The log-probability of each row's target sequence, (B,): the sum over t of
    log_softmax(logits[b, t])[target[b, t]] for logits (B, T, V) and integer targets (B, T),
    skipping targets equal to ignore_index (a row with none gives 0). With the prompt's and
    the padding's targets set to -100, it is log pi(response | prompt), which DPO compares.
    (PyTorch has no such function; trl calls its version get_batch_logps.)"""
    target = checks.as_array(target)
    checks.check_sequence_log_prob(logits, target, ignore_index)
    return SequenceLogProb.apply(logits, target, int(ignore_index))


def dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
             reference_rejected_logps, beta=0.1, reduction="mean"):
    """Direct Preference Optimization's loss for B pairs, each argument (B,) (from
    `sequence_log_prob`): -log sigmoid(beta * ((pc - rc) - (pr - rr))), the mean over the
    pairs (reduction "sum" adds them, "none" returns the B losses). The reference's values are
    constants (computed under no_grad); an array is taken as one. beta > 0 sets how far the
    policy may move from the reference (0.1 in the paper). PyTorch has no DPO loss: the name
    and the argument names are trl's. `dpo_rewards` gives the rewards and margins to report."""
    (pc, pr, rc, rr), beta = checks.check_dpo(
        (policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
         reference_rejected_logps), beta, reduction)
    return DPOLoss.apply(pc, pr, rc, rr, beta, reduction)


def dpo_rewards(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps, beta=0.1):
    """The implicit rewards of DPO, (chosen_rewards, rejected_rewards), each (B,):
    beta * (pc - rc) and beta * (pr - rr), as Tensors that require no gradient (for reports,
    not for training). chosen_rewards - rejected_rewards is the margin `dpo_loss` pushes up;
    the pair is ranked right when it is > 0."""
    (pc, pr, rc, rr), beta = checks.check_dpo(
        (policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
         reference_rejected_logps), beta, function="dpo_rewards")
    return Tensor(beta * (pc.data - rc.data)), Tensor(beta * (pr.data - rr.data))
