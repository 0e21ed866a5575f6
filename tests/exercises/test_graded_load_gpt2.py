"""Graded tests of the real-GPT-2 chapter (12_load_gpt2.py): one checkpoint tensor from Hugging
Face's names and Conv1D layout to ours, and a whole checkpoint giving HF's logits."""
import json

import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT
from gpt.hf_checkpoint import hf_tensor_to_ours


def array(*shape):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


class TestHfTensorToOurs:
    @pytest.mark.parametrize("key", ["h.0.attn.c_attn.weight", "h.3.attn.c_proj.weight",
                                     "transformer.h.1.mlp.c_fc.weight", "h.11.mlp.c_proj.weight"])
    def test_conv1d_weights_are_transposed(self, key):
        weight = array(4, 6)                        # Conv1D's (in, out)
        name, converted = hf_tensor_to_ours(key, weight)
        assert name == key if key.startswith("transformer.") else name == "transformer." + key
        np.testing.assert_array_equal(converted, weight.T)

    def test_a_square_conv1d_weight_is_transposed_too(self):
        weight = array(5, 5)
        _, converted = hf_tensor_to_ours("h.0.attn.c_proj.weight", weight)
        np.testing.assert_array_equal(converted, weight.T)

    @pytest.mark.parametrize("key", ["wte.weight", "wpe.weight", "h.0.ln_1.weight",
                                     "h.0.attn.c_attn.bias", "h.2.attn.c_proj.bias",
                                     "h.0.mlp.c_fc.bias", "h.0.mlp.c_proj.bias", "ln_f.bias",
                                     "transformer.wte.weight", "transformer.h.0.attn.c_attn.bias"])
    def test_everything_else_keeps_its_layout(self, key):
        tensor = array(6, 4) if key.endswith("te.weight") else array(6)
        name, converted = hf_tensor_to_ours(key, tensor)
        assert name == (key if key.startswith("transformer.") else "transformer." + key)
        np.testing.assert_array_equal(converted, tensor)
        assert converted.shape == tensor.shape

    @pytest.mark.parametrize("key", ["h.0.attn.bias", "h.11.attn.masked_bias",
                                     "transformer.h.2.attn.bias",
                                     "transformer.h.0.attn.masked_bias"])
    def test_mask_buffers_are_skipped(self, key):
        assert hf_tensor_to_ours(key, np.ones((1, 1, 4, 4), bool)) is None

    def test_the_lm_head_keeps_its_name(self):
        name, converted = hf_tensor_to_ours("lm_head.weight", array(8, 4))
        assert name == "lm_head.weight"
        np.testing.assert_array_equal(converted, array(8, 4))

    def test_a_whole_checkpoint_gives_hf_logits(self, shared_data):
        directory = shared_data / "gpt2-tiny"
        reference = json.loads((directory / "reference.json").read_text(encoding="utf-8"))
        model = GPT.from_pretrained(directory)
        with tt.no_grad():
            logits, _ = model(np.array([reference["prompt_ids"]]))
        np.testing.assert_allclose(logits.data[0], np.array(reference["logits"]), atol=1e-4,
                                   rtol=0)
