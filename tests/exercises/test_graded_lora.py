"""Graded tests of the LoRA chapter (15_lora.py): the wrapped layer's forward pass, and merging
the low-rank correction into a plain Linear."""
import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import nn, ops
from tinytorch.functional import composed
from gpt.finetune.lora import LoRALinear

PRIMITIVES = {getattr(ops, name) for name in ops.__all__}


def lora_layer(dtype=np.float64, bias=True, rank=2, alpha=6.0, in_features=5, out_features=3):
    """A LoRALinear whose B is not zero (as after some training), so the correction shows."""
    generator = np.random.default_rng(0)
    base = nn.Linear(in_features, out_features, bias=bias, generator=generator, dtype=dtype)
    layer = LoRALinear(base, rank=rank, alpha=alpha, generator=generator)
    layer.lora_B.data = generator.standard_normal(layer.lora_B.shape).astype(dtype)
    return layer


def by_formula(layer, x):
    """x W^T + b + (alpha / r) (x A^T) B^T in NumPy, float64."""
    W, A, B = (p.data.astype(np.float64) for p in (layer.base.weight, layer.lora_A, layer.lora_B))
    out = x @ W.T + (alpha_over_r(layer)) * (x @ A.T) @ B.T
    return out if layer.base.bias is None else out + layer.base.bias.data


def alpha_over_r(layer):
    return layer.alpha / layer.rank


def inputs(*shape, seed=1, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


class TestLoraForward:
    @pytest.mark.parametrize("functions", [F, composed], ids=["fused", "composed"])
    @pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)])
    def test_matches_the_formula(self, functions, shape):
        layer, x = lora_layer(), inputs(*shape)
        out = layer(tt.tensor(x), functions)
        assert out.shape == shape[:-1] + (3,)
        np.testing.assert_allclose(out.data, by_formula(layer, x), rtol=1e-12, atol=1e-12)

    def test_scaled_by_alpha_over_rank(self):
        layer, x = lora_layer(rank=3, alpha=1.5), inputs(2, 5)
        np.testing.assert_allclose(layer(tt.tensor(x)).data, by_formula(layer, x), rtol=1e-12)

    def test_without_a_bias(self):
        layer, x = lora_layer(bias=False), inputs(3, 5)
        np.testing.assert_allclose(layer(tt.tensor(x)).data, by_formula(layer, x), rtol=1e-12)

    def test_gradients_reach_a_and_b_but_not_the_frozen_base(self):
        layer, x = lora_layer(), inputs(4, 5)
        g = inputs(4, 3, seed=2)
        layer(tt.tensor(x)).backward(g)
        s = alpha_over_r(layer)
        A, B = layer.lora_A.data, layer.lora_B.data
        np.testing.assert_allclose(layer.lora_B.grad, s * g.T @ (x @ A.T), rtol=1e-10)
        np.testing.assert_allclose(layer.lora_A.grad, s * (g @ B).T @ x, rtol=1e-10)
        assert layer.base.weight.grad is None and layer.base.bias.grad is None

    def test_the_gradient_reaches_the_input(self):
        layer, x = lora_layer(), inputs(2, 5)
        x_tensor = tt.tensor(x, requires_grad=True)
        g = inputs(2, 3, seed=3)
        layer(x_tensor).backward(g)
        W, A, B = layer.base.weight.data, layer.lora_A.data, layer.lora_B.data
        np.testing.assert_allclose(x_tensor.grad, g @ (W + alpha_over_r(layer) * B @ A),
                                   rtol=1e-10)

    def test_composed_builds_only_primitive_ops(self):
        layer = lora_layer()
        out = layer(tt.tensor(inputs(2, 5), requires_grad=True), composed)
        used = {node.fn for node in tt.graph.nodes(out)}
        assert used <= PRIMITIVES, f"the composed path used {used - PRIMITIVES}"

    def test_float32_stays_float32(self):
        layer = lora_layer(dtype=np.float32)
        x = inputs(2, 5, dtype=np.float32)
        out = layer(tt.tensor(x))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, by_formula(layer, x.astype(np.float64)), rtol=1e-5,
                                   atol=1e-5)


class TestLoraMerge:
    def test_the_merged_layer_computes_the_same(self):
        layer, x = lora_layer(), inputs(4, 5)
        merged = layer.merge()
        assert isinstance(merged, nn.Linear)
        assert (merged.in_features, merged.out_features) == (5, 3)
        np.testing.assert_allclose(merged(tt.tensor(x)).data, by_formula(layer, x), rtol=1e-12,
                                   atol=1e-12)
        expected_weight = layer.base.weight.data + alpha_over_r(layer) * (
            layer.lora_B.data @ layer.lora_A.data)
        np.testing.assert_allclose(merged.weight.data, expected_weight, rtol=1e-12)
        np.testing.assert_array_equal(merged.bias.data, layer.base.bias.data)

    def test_the_layer_and_its_base_stay_as_they_were(self):
        layer = lora_layer()
        before = [p.data.copy() for p in (layer.base.weight, layer.base.bias, layer.lora_A,
                                          layer.lora_B)]
        merged = layer.merge()
        after = [layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B]
        for old, new in zip(before, after):
            np.testing.assert_array_equal(new.data, old)
        for mine in (merged.weight.data, merged.bias.data):
            for theirs in after:
                assert not np.shares_memory(mine, theirs.data), "the merged layer shares memory"

    def test_without_a_bias(self):
        layer, x = lora_layer(bias=False, in_features=4, out_features=6), inputs(3, 4)
        merged = layer.merge()
        assert merged.bias is None
        np.testing.assert_allclose(merged(tt.tensor(x)).data, by_formula(layer, x), rtol=1e-12,
                                   atol=1e-12)

    def test_float32_stays_float32(self):
        merged = lora_layer(dtype=np.float32).merge()
        assert merged.weight.dtype == merged.bias.dtype == np.float32

    def test_frozen_as_the_base_and_in_the_layer_s_mode(self):
        layer = lora_layer()
        layer.eval()
        merged = layer.merge()
        assert not merged.weight.requires_grad and not merged.bias.requires_grad
        assert not merged.training
        layer.train()
        layer.base.requires_grad_(True)
        merged = layer.merge()
        assert merged.weight.requires_grad and merged.bias.requires_grad and merged.training
