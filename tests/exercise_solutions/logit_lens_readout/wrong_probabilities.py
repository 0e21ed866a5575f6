# returns each depth's probabilities (softmax of the logits), not the logits
import tinytorch.functional as F

functional = functional_for(model.config)
with evaluating(model), tt.no_grad():
    logits = [model.head(model.transformer.ln_f(tt.Tensor(s), functional)) for s in streams]
    return np.stack([F.softmax(l, dim=-1).data for l in logits])
