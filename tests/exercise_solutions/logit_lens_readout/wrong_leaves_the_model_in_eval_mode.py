# switches dropout off with model.eval() and never switches it back
functional = functional_for(model.config)
model.eval()
with tt.no_grad():
    return np.stack([model.head(model.transformer.ln_f(tt.Tensor(s), functional)).data
                     for s in streams])
