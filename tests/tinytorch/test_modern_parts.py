"""The parts of today's open models, by what they mean: SiLU, RMSNorm, the GELU and SwiGLU
MLPs, rotary position embedding, grouped-query attention and the attention weights.

test_functional.py checks every kernel's twins, gradients, graphs and float32 over Hypothesis
calls; here each part is checked against values worked by hand or written in plain NumPy.
"""
import math

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.functional import composed
from gradcheck_cases import graph_nodes
from strategies import leaves
from test_functional import reference_attention

BOTH = pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])


# ----- silu -------------------------------------------------------------------------------------

@BOTH
def test_silu_is_x_times_sigmoid(module):
    x = np.array([-2.0, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(module.silu(tt.tensor(x)).data, x / (1.0 + np.exp(-x)),
                               rtol=1e-14)
    one = tt.tensor(1.0, dtype=np.float64, requires_grad=True)
    module.silu(one).backward()
    s = 1.0 / (1.0 + math.exp(-1.0))
    assert one.grad == pytest.approx(s * (1.0 + 1.0 * (1.0 - s)), rel=1e-14)   # 0.927670511...


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_silu_keeps_its_precision_for_large_negative_inputs(dtype):
    # silu(-30) = -2.8e-12 and silu(-80) = -1.4e-33: small, not zero (as in PyTorch).
    x = np.array([-30.0, -80.0], dtype)
    expected = x.astype(np.float64) / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(F.silu(tt.tensor(x)).data, expected, rtol=1e-6)


@BOTH
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_of_large_inputs_stays_finite(module, dtype):
    x = tt.tensor([-1e4, -100.0, 100.0, 1e4], dtype=dtype, requires_grad=True)
    out = module.silu(x)
    out.sum().backward()
    np.testing.assert_allclose(out.data, [0.0, 0.0, 100.0, 1e4], atol=1e-30)
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, 1.0], atol=1e-30)


# ----- rms_norm ---------------------------------------------------------------------------------

@BOTH
def test_rms_norm_by_hand(module):
    # [3, 4]: mean of squares 12.5; [0, 2]: 2. eps = 0.5 to see that it counts.
    x = tt.tensor([[3.0, 4.0], [0.0, 2.0]], dtype=np.float64)
    weight = tt.tensor([1.0, -2.0], dtype=np.float64)
    out = module.rms_norm(x, 2, weight, eps=0.5).data
    np.testing.assert_allclose(out, [[3.0 / math.sqrt(13.0), -8.0 / math.sqrt(13.0)],
                                     [0.0, -4.0 / math.sqrt(2.5)]], rtol=1e-15)


@BOTH
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_eps_none_is_the_machine_epsilon_of_the_dtype(module, dtype):
    # As torch.nn.functional.rms_norm: eps=None means torch.finfo(x.dtype).eps.
    x = tt.tensor([[1e-4, -1e-4, 2e-4]], dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    expected = x.data.astype(np.float64) / np.sqrt(np.mean(x.data.astype(np.float64) ** 2) + eps)
    np.testing.assert_allclose(module.rms_norm(x, (3,)).data, expected, rtol=1e-6)
    assert not np.allclose(module.rms_norm(x, (3,), eps=1e-5).data, expected, rtol=1e-3)


@BOTH
def test_rms_norm_over_two_axes_and_its_gradient_by_hand(module):
    x, weight = leaves(3, (2, 3, 4), (3, 4))
    out = module.rms_norm(x, (3, 4), weight, eps=1e-6)
    rows = x.data.reshape(2, 12)
    rstd = 1.0 / np.sqrt((rows ** 2).mean(axis=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(out.data, (rows * rstd).reshape(2, 3, 4) * weight.data,
                               rtol=1e-12)
    grad = np.random.default_rng(4).standard_normal((2, 3, 4))
    out.backward(grad)
    xhat, gh = rows * rstd, (grad * weight.data).reshape(2, 12)
    expected = rstd * (gh - xhat * (gh * xhat).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad, expected.reshape(2, 3, 4), rtol=1e-10)
    np.testing.assert_allclose(weight.grad, (grad * xhat.reshape(2, 3, 4)).sum(axis=0),
                               rtol=1e-10)


@BOTH
def test_rms_norm_errors_name_the_shapes(module):
    with pytest.raises(ValueError, match=r"rms_norm over \(4,\).*\(2, 3\)"):
        module.rms_norm(tt.zeros(2, 3), 4)
    with pytest.raises(ValueError, match=r"weight has shape \(2,\).*\(3,\)"):
        module.rms_norm(tt.zeros(2, 3), 3, tt.ones(2))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        module.rms_norm(tt.zeros(2, 3), 3, eps=-1.0)


# ----- the MLPs ---------------------------------------------------------------------------------

def gelu_array(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


@BOTH
def test_gelu_mlp_is_linear_gelu_linear(module):
    x, w_fc, b_fc, w_proj, b_proj = leaves(5, (2, 3, 4), (16, 4), (16,), (4, 16), (4,))
    expected = gelu_array(x.data @ w_fc.data.T + b_fc.data) @ w_proj.data.T + b_proj.data
    np.testing.assert_allclose(module.gelu_mlp(x, w_fc, b_fc, w_proj, b_proj).data, expected,
                               rtol=1e-12)
    without_biases = gelu_array(x.data @ w_fc.data.T) @ w_proj.data.T
    np.testing.assert_allclose(module.gelu_mlp(x, w_fc, None, w_proj, None).data,
                               without_biases, rtol=1e-12)


@BOTH
def test_swiglu_mlp_gates_the_up_projection(module):
    x, w_gate, w_up, w_down, b_gate, b_up, b_down = leaves(
        6, (2, 3, 4), (6, 4), (6, 4), (5, 6), (6,), (6,), (5,))
    gate, up = x.data @ w_gate.data.T, x.data @ w_up.data.T
    silu = gate / (1.0 + np.exp(-gate))
    np.testing.assert_allclose(module.swiglu_mlp(x, w_gate, w_up, w_down).data,
                               (silu * up) @ w_down.data.T, rtol=1e-12)
    gate, up = gate + b_gate.data, up + b_up.data
    with_biases = (gate / (1.0 + np.exp(-gate)) * up) @ w_down.data.T + b_down.data
    np.testing.assert_allclose(
        module.swiglu_mlp(x, w_gate, w_up, w_down, b_gate, b_up, b_down).data, with_biases,
        rtol=1e-12)


@pytest.mark.parametrize("mlp, shapes", [
    (F.gelu_mlp, [(2, 4), (16, 4), (16,), (4, 16), (4,)]),
    (F.swiglu_mlp, [(2, 4), (6, 4), (6, 4), (4, 6)]),
])
def test_fused_mlps_keep_nothing_and_build_no_graph_without_grad(mlp, shapes):
    inputs = [tt.tensor(np.random.default_rng(i).standard_normal(shape), requires_grad=True)
              for i, shape in enumerate(shapes)]
    with tt.no_grad():
        out = mlp(*inputs)
    assert out._node is None and not out.requires_grad
    constants = [t.detach() for t in inputs]
    assert mlp(*constants)._node is None
    np.testing.assert_array_equal(mlp(*constants).data, out.data)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.gelu_mlp(tt.zeros(2, 4), tt.zeros(8, 3), None, tt.zeros(4, 8), None),
     r"gelu_mlp: input \(2, 4\) has 4 features but w_fc \(8, 3\) expects 3"),
    (lambda m: m.gelu_mlp(tt.zeros(2, 4), tt.zeros(8, 4), tt.zeros(7), tt.zeros(4, 8), None),
     r"gelu_mlp: b_fc \(7,\) does not match w_fc \(8, 4\)"),
    (lambda m: m.gelu_mlp(tt.zeros(2, 4), tt.zeros(8, 4), None, tt.zeros(4, 9), None),
     r"gelu_mlp: w_proj \(4, 9\) expects 9 inputs but w_fc gives 8"),
    (lambda m: m.swiglu_mlp(tt.zeros(2, 4), tt.zeros(8, 4), tt.zeros(6, 4), tt.zeros(4, 8)),
     r"swiglu_mlp: w_gate \(8, 4\) and w_up \(6, 4\) must have the same shape"),
    (lambda m: m.swiglu_mlp(tt.zeros(2, 4), tt.zeros(8, 4), tt.zeros(8, 4), tt.zeros(4, 6)),
     r"swiglu_mlp: w_down \(4, 6\) expects 6 inputs but w_gate gives 8"),
])
@BOTH
def test_mlp_errors_name_the_weights_and_shapes(module, call, message):
    with pytest.raises(ValueError, match=message):
        call(module)


# ----- rotary embedding -------------------------------------------------------------------------

def rotation_tables(angles):
    """cos and sin (T, D) in Hugging Face's layout for angles (T, D/2): both halves equal."""
    doubled = np.concatenate([angles, angles], axis=-1)
    return np.cos(doubled), np.sin(doubled)


@BOTH
def test_rotary_turns_each_pair_by_its_angle(module):
    # D = 4: pairs (x0, x2) and (x1, x3), turned by 90 and 30 degrees at this position.
    x = tt.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=np.float64)
    cos, sin = rotation_tables(np.array([[math.pi / 2, math.pi / 6]]))
    out = module.rotary_embedding(x, tt.tensor(cos), tt.tensor(sin)).data
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    # (a, b) -> (a cos - b sin, b cos + a sin):  (1, 3) -> (-3, 1);  (2, 4) -> (2c - 4s, 4c + 2s)
    np.testing.assert_allclose(out, [[-3.0, 2 * c - 4 * s, 1.0, 4 * c + 2 * s]], atol=1e-15)


@BOTH
def test_rotary_keeps_lengths_and_its_gradient_turns_back(module):
    x, = leaves(7, (2, 3, 5, 6))
    cos, sin = rotation_tables(np.random.default_rng(8).uniform(-4, 4, (5, 3)))
    out = module.rotary_embedding(x, tt.tensor(cos), tt.tensor(sin))
    pairs = lambda a: a[..., :3] ** 2 + a[..., 3:] ** 2                    # squared radii
    np.testing.assert_allclose(pairs(out.data), pairs(x.data), rtol=1e-12)
    grad = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(grad)
    # A rotation's transpose is its inverse: the gradient is turned by minus the angles.
    inverse = module.rotary_embedding(tt.tensor(grad), tt.tensor(cos), tt.tensor(-sin)).data
    np.testing.assert_allclose(x.grad, inverse, rtol=1e-12, atol=1e-14)


@BOTH
def test_rotary_tables_may_be_plain_arrays_and_per_row(module):
    x, = leaves(10, (2, 2, 3, 4))
    angles = np.random.default_rng(11).uniform(-3, 3, (2, 1, 3, 2))       # positions per row
    cos, sin = rotation_tables(angles)
    out = module.rotary_embedding(x, cos, sin)
    for row in range(2):
        one = module.rotary_embedding(x[row:row + 1], tt.tensor(cos[row, 0]),
                                      tt.tensor(sin[row, 0]))
        np.testing.assert_allclose(out.data[row:row + 1], one.data, rtol=1e-14)


@pytest.mark.parametrize("x_shape, table_shape, message", [
    ((1, 2, 3, 5), (3, 5), r"last axis of x \(1, 2, 3, 5\) must have an even size"),
    ((1, 2, 3, 4), (3, 2), r"cos and sin \(3, 2\) must end in x's head size 4"),
    ((1, 2, 3, 4), (4, 4), r"broadcast to x \(1, 2, 3, 4\)"),
    ((1, 2, 3, 4), (2, 2, 3, 4), r"broadcast to x \(1, 2, 3, 4\)"),
])
@BOTH
def test_rotary_errors_name_the_shapes(module, x_shape, table_shape, message):
    with pytest.raises(ValueError, match=message):
        module.rotary_embedding(tt.zeros(*x_shape), tt.zeros(*table_shape),
                                tt.zeros(*table_shape))
    with pytest.raises(ValueError, match=r"cos \(3, 4\) float32 and sin \(4,\) float32 must"):
        module.rotary_embedding(tt.zeros(1, 3, 4), tt.zeros(3, 4), tt.zeros(4))
    with pytest.raises(ValueError, match=r"float32 and sin \(3, 4\) float64 must have the same"):
        module.rotary_embedding(tt.zeros(1, 3, 4), tt.zeros(3, 4),
                                tt.zeros(3, 4, dtype=np.float64))


# ----- grouped-query attention ------------------------------------------------------------------

def visible_keys(n_queries, n_keys):
    """End-aligned causal visibility (Tq, Tk): query i sees keys up to Tk - Tq + i."""
    return np.arange(n_keys)[None, :] <= (n_keys - n_queries + np.arange(n_queries))[:, None]


@BOTH
@pytest.mark.parametrize("n_heads, n_kv_heads", [(6, 2), (4, 1), (3, 3)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_grouped_query_attention_matches_the_definition(module, n_heads, n_kv_heads, is_causal):
    # Query head h reads key/value head h // (Hq / Hkv): np.repeat spells that out.
    q, k, v = leaves(12, (2, n_heads, 3, 4), (2, n_kv_heads, 5, 4), (2, n_kv_heads, 5, 3))
    group = n_heads // n_kv_heads
    visible = visible_keys(3, 5) if is_causal else np.ones((3, 5), bool)
    expected = reference_attention(q.data, np.repeat(k.data, group, axis=1),
                                   np.repeat(v.data, group, axis=1), visible)
    out = module.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert out.shape == (2, n_heads, 3, 3)


def test_the_fused_kernel_keeps_keys_and_values_unrepeated():
    """The grouping is folded into the query rows: the node keeps k and v as given (B, Hkv,
    Tk, D), never a repeated copy, and the saved queries are the grouped rows."""
    q, k, v = leaves(13, (1, 8, 3, 4), (1, 2, 6, 4), (1, 2, 6, 4))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    (node,) = graph_nodes(out)
    q_rows, saved_k, saved_v, keep = node.saved_tensors
    (weights,) = node.weights                            # one block: grouped rows stay whole
    assert saved_k is k.data and saved_v is v.data
    assert q_rows.shape == (1, 2, 12, 4) and weights.shape == (1, 2, 12, 6) and keep is None


@BOTH
def test_scale_replaces_one_over_sqrt_d(module):
    q, k, v = leaves(14, (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4))
    # scale = 1/sqrt(D) * 3 is the default computed on q * 3.
    tripled = module.scaled_dot_product_attention(q * 3.0, k, v).data
    np.testing.assert_allclose(module.scaled_dot_product_attention(q, k, v, scale=1.5).data,
                               tripled, rtol=1e-12)


@BOTH
@pytest.mark.parametrize("shapes, options, message", [
    (((1, 4, 2, 8), (1, 2, 2, 8), (1, 2, 2, 8)), {},
     r"leading axes of q and k do not broadcast.*pass enable_gqa=True"),
    (((1, 3, 2, 8), (1, 2, 2, 8), (1, 2, 2, 8)), {"enable_gqa": True},
     r"Hq a multiple of Hkv; got q \(1, 3, 2, 8\), k \(1, 2, 2, 8\)"),
    (((2, 4, 2, 8), (1, 2, 2, 8), (1, 2, 2, 8)), {"enable_gqa": True},
     r"the same leading axes"),
    (((1, 2, 3, 8), (1, 2, 2, 8), (1, 2, 2, 8)), {"is_causal": True},
     r"3 queries but only 2 keys"),
    (((1, 2, 2, 8), (1, 2, 3, 8), (1, 2, 2, 8)), {},
     r"v \(\.\.\., Tk, Dv\); got q \(1, 2, 2, 8\), k \(1, 2, 3, 8\), v \(1, 2, 2, 8\)"),
    (((1, 2, 2, 8), (1, 2, 2, 8), (1, 2, 2, 8)), {"dropout_p": 1.0},
     r"dropout_p must be in \[0, 1\), got 1.0"),
])
def test_attention_errors_name_the_shapes(module, shapes, options, message):
    with pytest.raises(ValueError, match=message):
        module.scaled_dot_product_attention(*(tt.zeros(*s) for s in shapes), **options)


@BOTH
def test_multi_query_attention_without_enable_gqa_broadcasts_one_head(module):
    # One key/value head broadcasts against all query heads, as in a matrix product.
    q, k, v = leaves(15, (2, 3, 4, 5), (2, 1, 4, 5), (2, 1, 4, 5))
    broadcast = module.scaled_dot_product_attention(q, k, v, is_causal=True)
    grouped = module.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    np.testing.assert_allclose(broadcast.data, grouped.data, rtol=1e-13)


def test_repeat_kv_repeats_each_head_in_place():
    x = tt.tensor(np.arange(2 * 2 * 1 * 1.0).reshape(2, 2, 1, 1), requires_grad=True)
    repeated = composed.repeat_kv(x, 3)
    assert repeated.shape == (2, 6, 1, 1)
    np.testing.assert_array_equal(repeated.data[..., 0, 0], [[0, 0, 0, 1, 1, 1],
                                                             [2, 2, 2, 3, 3, 3]])
    (repeated * tt.tensor(np.arange(12.0).reshape(2, 6, 1, 1))).sum().backward()
    np.testing.assert_array_equal(x.grad[..., 0, 0], [[0 + 1 + 2, 3 + 4 + 5],
                                                      [6 + 7 + 8, 9 + 10 + 11]])


# ----- attention weights ------------------------------------------------------------------------

@pytest.mark.parametrize("n_heads, n_kv_heads, enable_gqa", [(2, 2, False), (4, 2, True),
                                                             (3, 1, True), (3, 1, False)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_weights_are_what_attention_uses(n_heads, n_kv_heads, enable_gqa, is_causal):
    q, k, v = leaves(16, (2, n_heads, 3, 4), (2, n_kv_heads, 4, 4), (2, n_kv_heads, 4, 5))
    weights = F.attention_weights(q, k, is_causal=is_causal, enable_gqa=enable_gqa, scale=0.7)
    assert weights.shape == (2, n_heads, 3, 4) and not weights.requires_grad
    assert weights._node is None
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1.0, rtol=1e-14)
    if is_causal:
        assert np.all(weights.data[..., ~visible_keys(3, 4)] == 0.0)
    values = np.repeat(v.data, n_heads // n_kv_heads, axis=1)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=enable_gqa,
                                         scale=0.7)
    np.testing.assert_allclose(weights.data @ values, out.data, rtol=1e-14, atol=1e-15)


def test_attention_weights_take_arrays_and_check_like_attention():
    rng = np.random.default_rng(17)
    q, k = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((1, 1, 3, 4))
    weights = F.attention_weights(q, k, enable_gqa=True)
    assert isinstance(weights, tt.Tensor) and weights.shape == (1, 2, 3, 3)
    with pytest.raises(ValueError, match="3 queries but only 2 keys"):
        F.attention_weights(q, k[..., :2, :], is_causal=True)


def test_attention_weights_keep_float32():
    q = tt.tensor(np.random.default_rng(18).standard_normal((1, 4, 3, 4)), dtype=np.float32)
    k = tt.tensor(np.random.default_rng(19).standard_normal((1, 2, 3, 4)), dtype=np.float32)
    weights = F.attention_weights(q, k, is_causal=True, enable_gqa=True, scale=np.float64(0.5))
    assert weights.dtype == np.float32
