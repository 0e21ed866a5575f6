# standardises each vector but leaves out the norm's learned weight and bias
import tinytorch.functional as F

C = streams.shape[-1]
eps = model.config.layer_norm_epsilon
with tt.no_grad():
    return np.stack([model.head(F.layer_norm(tt.Tensor(s), (C,), None, None, eps)).data
                     for s in streams])
