# every depth at once: (n, B, T, C) as one batch of n * B rows, then back to (n, B, T, V)
n, B, T, C = streams.shape
functional = functional_for(model.config)
with evaluating(model), tt.no_grad():
    hidden = model.transformer.ln_f(tt.Tensor(streams.reshape(n * B, T, C)), functional)
    logits = model.head(hidden).data
return logits.reshape(n, B, T, -1)
