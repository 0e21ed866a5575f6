"""Causal attention block by block (tinytorch.functional.attention.query_blocks): the key
columns a block of queries cannot see are never computed, and nothing else changes: the
fused kernel still agrees with its composed twin to 1e-9 and passes gradcheck, with the mask
aligned to the end, dropout, broadcast leading axes and blocks of any size."""
import numpy as np
import pytest

import tinytorch.functional as F
from tinytorch.functional import attention, composed
from tinytorch.graph import nodes

from gradcheck_cases import check_gradients
from strategies import leaves


def test_query_blocks_by_hand():
    assert attention.query_blocks(256, 256, True, False) == [
        (0, 64, 64), (64, 128, 128), (128, 192, 192), (192, 256, 256)]
    # three new queries at the end of ten keys (a KV cache): they see keys up to 8, 9, 10
    assert attention.query_blocks(3, 10, True, False) == [(0, None, 10)]  # one block of 64
    assert attention.query_blocks(300, 300, False, False) == [(0, None, 300)]  # no mask
    assert attention.query_blocks(300, 300, True, True) == [(0, None, 300)]    # grouped rows


def test_small_blocks_by_hand(monkeypatch):
    monkeypatch.setattr(attention, "QUERY_BLOCK", 2)
    assert attention.query_blocks(5, 5, True, False) == [(0, 2, 2), (2, 4, 4), (4, 5, 5)]
    assert attention.query_blocks(3, 10, True, False) == [(0, 2, 9), (2, 3, 10)]


def test_at_256_positions_ten_of_sixteen_key_blocks_are_computed():
    q, k, v = leaves(0, (1, 1, 256, 4), (1, 1, 256, 4), (1, 1, 256, 4), dtype=np.float32)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (node,) = [n for n in nodes(out)]
    assert sum(w.shape[-2] * w.shape[-1] for w in node.weights) == 10 * 64 * 64


CASES = [
    # (q shape, k shape, v shape, dropout_p): square, KV cache (fewer queries), broadcast heads
    ((2, 3, 7, 4), (2, 3, 7, 4), (2, 3, 7, 5), 0.0),
    ((1, 2, 5, 3), (1, 2, 9, 3), (1, 2, 9, 2), 0.0),
    ((2, 3, 6, 4), (1, 3, 6, 4), (1, 3, 6, 4), 0.0),
    ((2, 2, 7, 3), (2, 2, 7, 3), (2, 2, 7, 3), 0.4),
    ((1, 2, 4, 3), (1, 2, 8, 3), (1, 2, 8, 3), 0.4),
]


@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("q_shape, k_shape, v_shape, p", CASES)
def test_blocks_agree_with_the_composed_twin(monkeypatch, block, q_shape, k_shape, v_shape, p):
    monkeypatch.setattr(attention, "QUERY_BLOCK", block)
    outputs, grads = [], []
    for module in (F, composed):
        q, k, v = leaves(block, q_shape, k_shape, v_shape)
        out = module.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p,
                                                  generator=np.random.default_rng(5))
        out.backward(np.random.default_rng(6).standard_normal(out.shape))
        outputs.append(out.data)
        grads.append([q.grad, k.grad, v.grad])
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-9, atol=1e-12)
    for name, fused, twin in zip("qkv", *grads):
        np.testing.assert_allclose(fused, twin, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("q_shape, k_shape, v_shape, p", CASES)
def test_blocks_pass_gradcheck(monkeypatch, q_shape, k_shape, v_shape, p):
    monkeypatch.setattr(attention, "QUERY_BLOCK", 2)
    q, k, v = leaves(11, q_shape, k_shape, v_shape)
    check_gradients(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True, dropout_p=p, generator=np.random.default_rng(3)), q, k, v)


def test_blocks_keep_float32(monkeypatch):
    monkeypatch.setattr(attention, "QUERY_BLOCK", 2)
    q, k, v = leaves(12, (1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4), dtype=np.float32)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out.backward(np.ones(out.shape, np.float32))
    assert out.dtype == np.float32
    assert all(t.grad.dtype == np.float32 for t in (q, k, v))


def test_attention_weights_are_whole_and_equal_the_blocks_weights(monkeypatch):
    """F.attention_weights gives the full (Tq, Tk) matrix; each block's weights are its rows,
    cut at the keys the block sees, and the cut-off part is exactly 0."""
    monkeypatch.setattr(attention, "QUERY_BLOCK", 2)
    q, k, v = leaves(13, (1, 2, 5, 3), (1, 2, 7, 3), (1, 2, 7, 3))
    full = F.attention_weights(q, k, is_causal=True).data
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (node,) = list(nodes(out))
    for (first, stop, seen), weights in zip(node.blocks, node.weights):
        np.testing.assert_allclose(weights, full[..., first:stop, :seen], rtol=1e-12)
        assert (full[..., first:stop, seen:] == 0.0).all()
