"""Looking inside a model: pictures of what it computes, read through the model itself.

    attention_maps.py   the attention weights of a layer, as the model's attention computes them
    explain/            the explainer page (`python -m gpt explain`): tokens, attention, the
                        lens and sampling for any checkpoint, served to a browser
    lens.py             the logit lens: the residual stream read out early, layer by layer
    ablation.py         head ablation: the loss with one attention head's output zeroed
    patching.py         activation patching: a clean run's activations put into a corrupted run
    pictures.py         a terminal heatmap and SVG pictures (attention maps, loss curves,
                        log-log plots)
    scaling.py          fitting a power law L(N) = a N^-alpha + c to losses (scaling laws)

All but the last two run the model with hooks (gpt.model.Hooks) that read or replace a named
activation, so what they show is what the model computes, by the same code.
"""
