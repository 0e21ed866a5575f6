# an additive -inf mask, and the softmax written out with its max shift
scores = (q @ k.transpose(-2, -1)) * scale                       # (B, H, Tq, Tk)
if is_causal:
    bias = np.where(causal_mask(q.shape[-2], k.shape[-2]), -np.inf, 0.0).astype(scores.dtype)
    scores = scores + tensor(bias)
shifted = scores - scores.max(dim=-1, keepdim=True).detach()
exps = shifted.exp()
weights = exps / exps.sum(dim=-1, keepdim=True)
if dropout_p > 0.0:
    weights = dropout(weights, dropout_p, training=True, generator=generator)
return weights @ v
