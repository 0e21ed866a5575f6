"""The parts against a real checkpoint: llama-tiny's forward pass written out from tinytorch's
functions (RMSNorm, rotary positions, grouped-query attention, SwiGLU) reproduces what Hugging
Face computes (../shared/data/llama-tiny/reference.json), on the fused and the composed path.

This checks the parts' conventions where a unit test cannot: the rotate-half pairing, which
key/value head a query head reads, RMSNorm's eps, the gate and up projections' roles.
"""
import json

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import safetensors
from tinytorch.functional import composed
from gpt.positions import rope_inverse_frequencies, rotary_tables


class LlamaTiny:
    """llama-tiny's weights and a forward pass from functions only (no model classes)."""

    def __init__(self, directory, dtype):
        self.config = json.loads((directory / "config.json").read_text())
        self.weights = {name: tt.tensor(array.astype(dtype), requires_grad=True) for name, array
                        in safetensors.load_file(directory / "model.safetensors").items()}
        self.inverse_frequencies = rope_inverse_frequencies(
            self.config["head_dim"], self.config["rope_theta"], self.config["rope_scaling"])
        self.dtype = dtype

    def logits(self, ids, m):
        """ids (B, T) -> logits (B, T, V), computed with the function set m (F or composed)."""
        config, w = self.config, self.weights
        H, H_KV, D = (config["num_attention_heads"], config["num_key_value_heads"],
                      config["head_dim"])
        C, eps = config["hidden_size"], config["rms_norm_eps"]
        B, T = ids.shape
        cos, sin = rotary_tables(np.arange(T), self.inverse_frequencies, self.dtype)
        x = m.embedding(ids, w["model.embed_tokens.weight"])
        for i in range(config["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = m.rms_norm(x, C, w[p + "input_layernorm.weight"], eps)
            q, k, v = (m.linear(h, w[p + f"self_attn.{name}_proj.weight"])
                       .reshape(B, T, heads, D).transpose(1, 2)
                       for name, heads in (("q", H), ("k", H_KV), ("v", H_KV)))
            q, k = m.rotary_embedding(q, cos, sin), m.rotary_embedding(k, cos, sin)
            y = m.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            y = y.transpose(1, 2).reshape(B, T, H * D)
            x = x + m.linear(y, w[p + "self_attn.o_proj.weight"])
            h = m.rms_norm(x, C, w[p + "post_attention_layernorm.weight"], eps)
            x = x + m.swiglu_mlp(h, w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"],
                                 w[p + "mlp.down_proj.weight"])
        return m.linear(m.rms_norm(x, C, w["model.norm.weight"], eps), w["lm_head.weight"])


@pytest.fixture(scope="module")
def llama(shared_data):
    return (LlamaTiny(shared_data / "llama-tiny", np.float64),
            json.loads((shared_data / "llama-tiny" / "reference.json").read_text()))


@pytest.mark.parametrize("m", [F, composed], ids=["fused", "composed"])
def test_llama_tiny_from_the_parts_reproduces_hugging_face(llama, m):
    model, reference = llama
    logits = model.logits(np.array([reference["prompt_ids"]]), m).data[0]
    np.testing.assert_allclose(logits, reference["logits"], atol=6e-6)   # rounded to 1e-6

    batch = np.array(reference["batch_ids"])
    logits = model.logits(batch[:, :-1], m)
    loss = m.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    assert loss.item() == pytest.approx(reference["batch_loss"], abs=1e-6)
    for weight in model.weights.values():
        weight.grad = None
    loss.backward()
    assert model.weights.keys() == reference["grad_norms"].keys()
    for name, norm in reference["grad_norms"].items():
        assert np.linalg.norm(model.weights[name].grad) == pytest.approx(norm, rel=1e-5), name
