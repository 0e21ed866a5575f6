"""The functional kernels: fused (`tinytorch.functional`) and composed twins
(`tinytorch.functional.composed`).

For every kernel, over Hypothesis-drawn calls (strategies.KERNEL_CALLS):
- both versions pass gradcheck in float64;
- they agree forward and backward to rtol=1e-9, atol=1e-12 (every input's gradient);
- the fused one is ONE graph node whose inputs are leaves, the composed one is built only
  from primitive ops (tinytorch.ops).
Then what each kernel means: values worked by hand, ignore_index, the end-aligned causal mask,
dropout's generator, grouped-query attention, the rotation, numerical stability at logits of
1e4, and the errors (the same from both twins).
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import ops
from tinytorch.functional import composed
from gradcheck_cases import check_gradients, graph_nodes
from strategies import KERNEL_CALLS, leaves

KERNELS = list(KERNEL_CALLS)

# The class of the one node each fused kernel makes.
FUSED_CLASS = {
    "softmax": F.Softmax,
    "log_softmax": F.LogSoftmax,
    "cross_entropy": F.CrossEntropy,
    "gelu": F.GELU,
    "layer_norm": F.LayerNorm,
    "linear": F.Linear,
    "embedding": F.Embedding,
    "dropout": F.Dropout,
    "scaled_dot_product_attention": F.ScaledDotProductAttention,
    "silu": F.SiLU,
    "rms_norm": F.RMSNorm,
    "rotary_embedding": F.RotaryEmbedding,
    "gelu_mlp": F.GeluMLP,
    "swiglu_mlp": F.SwiGLUMLP,
    "sequence_log_prob": F.SequenceLogProb,
    "dpo_loss": F.DPOLoss,
}
# Names in tinytorch.functional that are not differentiable kernels.
NOT_KERNELS = {"causal_mask", "attention_weights", "dpo_rewards"}
PRIMITIVES = {getattr(ops, name) for name in ops.__all__}


def test_every_kernel_is_covered():
    assert set(KERNELS) == set(F.__all__) - NOT_KERNELS == set(composed.__all__)
    assert set(FUSED_CLASS) == set(KERNELS)


@pytest.mark.parametrize("kernel", KERNELS)
@given(data=st.data())
def test_fused_gradcheck(kernel, data):
    kernel_call = data.draw(KERNEL_CALLS[kernel])
    check_gradients(lambda *inputs: kernel_call.call(F, *inputs), *kernel_call.inputs())


@pytest.mark.parametrize("kernel", KERNELS)
@given(data=st.data())
def test_composed_gradcheck(kernel, data):
    kernel_call = data.draw(KERNEL_CALLS[kernel])
    check_gradients(lambda *inputs: kernel_call.call(composed, *inputs), *kernel_call.inputs())


@pytest.mark.parametrize("kernel", KERNELS)
@given(data=st.data())
def test_twins_agree_forward_and_backward(kernel, data):
    kernel_call = data.draw(KERNEL_CALLS[kernel])
    fused_out, fused_inputs = kernel_call.run(F)
    composed_out, composed_inputs = kernel_call.run(composed)
    np.testing.assert_allclose(fused_out.data, composed_out.data, rtol=1e-9, atol=1e-12)
    assert fused_out.shape == composed_out.shape and fused_out.dtype == composed_out.dtype

    grad = np.random.default_rng(kernel_call.seed).standard_normal(fused_out.shape)
    fused_out.backward(grad)
    composed_out.backward(grad)
    for i, (f, c) in enumerate(zip(fused_inputs, composed_inputs)):
        np.testing.assert_allclose(f.grad, c.grad, rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("kernel", KERNELS)
@given(data=st.data())
def test_fused_is_one_node_on_leaves_and_composed_only_primitives(kernel, data):
    kernel_call = data.draw(KERNEL_CALLS[kernel])

    fused_out, _ = kernel_call.run(F)
    fused_nodes = graph_nodes(fused_out)
    assert [node.fn for node in fused_nodes] == [FUSED_CLASS[kernel]]
    tensor_inputs = [inp for inp in fused_nodes[0].inputs if isinstance(inp, tt.Tensor)]
    assert tensor_inputs and all(inp.is_leaf for inp in tensor_inputs)

    composed_out, _ = kernel_call.run(composed)
    used = {node.fn for node in graph_nodes(composed_out)}
    assert used <= PRIMITIVES, f"composed {kernel} uses non-primitive {used - PRIMITIVES}"
    assert not used & set(FUSED_CLASS.values())


# ----- softmax and log_softmax -----------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_softmax_values(module):
    x = tt.tensor([[0.0, math.log(3.0)], [1.0, 1.0]], dtype=np.float64)
    np.testing.assert_allclose(module.softmax(x, dim=1).data, [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(module.softmax(x, dim=0).data.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(module.log_softmax(x, dim=1).data,
                               np.log([[0.25, 0.75], [0.5, 0.5]]))


# ----- cross_entropy ----------------------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_cross_entropy_by_hand(module):
    # Row 0: softmax of [0, ln 3] is [1/4, 3/4], target 1 -> -ln(3/4).
    # Row 1: target ignored. Row 2: uniform over 2 classes, target 0 -> ln 2.
    logits = tt.tensor([[0.0, math.log(3.0)], [5.0, -5.0], [1.0, 1.0]], dtype=np.float64,
                       requires_grad=True)
    target = np.array([1, -100, 0])
    loss = module.cross_entropy(logits, target)
    assert loss.item() == pytest.approx((-math.log(0.75) + math.log(2.0)) / 2)   # mean over 2
    loss.backward()
    # (softmax - onehot) / (number of rows counted); ignored rows get nothing.
    np.testing.assert_allclose(logits.grad, [[0.125, -0.125], [0.0, 0.0], [-0.25, 0.25]])

    total = module.cross_entropy(logits, target, reduction="sum")
    assert total.item() == pytest.approx(-math.log(0.75) + math.log(2.0))
    rows = module.cross_entropy(logits, tt.tensor(target), reduction="none")
    np.testing.assert_allclose(rows.data, [-math.log(0.75), 0.0, math.log(2.0)])


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_every_target_ignored_is_zero_with_zero_gradients(module, reduction):
    logits = tt.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    loss = module.cross_entropy(logits, np.full(3, -100), reduction=reduction)
    np.testing.assert_array_equal(loss.data, np.zeros(loss.shape))        # PyTorch: nan
    loss.sum().backward()
    np.testing.assert_array_equal(logits.grad, np.zeros((3, 4)))


def test_cross_entropy_ignore_index_can_be_a_class():
    logits = tt.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=np.float64)
    only_second = F.cross_entropy(logits, np.array([0, 1]), ignore_index=0)
    assert only_second.item() == pytest.approx(math.log(1.0 + math.exp(-2.0)))


def test_cross_entropy_errors_say_what_is_wrong():
    logits = tt.zeros(2, 3)
    with pytest.raises(ValueError, match="target 3 is outside the 3 classes"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(N, C\).*\(2, 3, 1\)"):
        F.cross_entropy(tt.zeros(2, 3, 1), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1]), reduction="average")


# ----- gelu -------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_gelu_is_gpt2s_tanh_form(module):
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    expected = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(module.gelu(tt.tensor(x)).data, expected, rtol=1e-15)
    assert F.gelu(tt.tensor(1.0, dtype=np.float64)).item() == pytest.approx(0.8411919906082768)


def test_gelu_other_forms_are_refused():
    with pytest.raises(ValueError, match="tanh"):
        F.gelu(tt.zeros(2), approximate="none")


# ----- layer_norm -------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_layer_norm_normalises_each_row(module):
    x = tt.tensor(np.random.default_rng(0).normal(3.0, 2.0, (4, 3, 5)))
    out = module.layer_norm(x, (3, 5)).data.reshape(4, -1)
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1.0, rtol=1e-4)           # eps=1e-5 shrinks it

    weight, bias = tt.tensor(np.full(5, 2.0)), tt.tensor(np.full(5, -1.0))
    shifted = module.layer_norm(x, 5, weight, bias).data
    np.testing.assert_allclose(shifted, 2.0 * module.layer_norm(x, 5).data - 1.0, rtol=1e-12)


def test_layer_norm_shape_mismatch_names_both():
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        F.layer_norm(tt.zeros(2, 3), (4,))


# ----- linear and embedding ---------------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_linear_is_x_times_weight_transposed_plus_bias(module):
    x, weight, bias = leaves(0, (2, 3, 4), (5, 4), (5,))
    expected = x.data @ weight.data.T + bias.data
    np.testing.assert_allclose(module.linear(x, weight, bias).data, expected, rtol=1e-12)
    np.testing.assert_allclose(module.linear(x[0, 0], weight).data, x.data[0, 0] @ weight.data.T)
    assert module.linear(x[0, 0], weight).shape == (5,)


def test_linear_feature_mismatch_names_both():
    with pytest.raises(ValueError, match=r"3 features.*\(5, 4\)"):
        F.linear(tt.zeros(2, 3), tt.zeros(5, 4))


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_embedding_picks_rows_and_sums_gradients_of_repeated_ids(module):
    weight = tt.tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    ids = np.array([[3, 1], [3, 3]])
    out = module.embedding(ids, weight)
    np.testing.assert_array_equal(out.data, weight.data[ids])
    (out * tt.tensor([[[1.0, 1.0], [2.0, 2.0]], [[3.0, 3.0], [4.0, 4.0]]])).sum().backward()
    np.testing.assert_array_equal(weight.grad, [[0, 0], [2, 2], [0, 0], [8, 8]])   # 1 + 3 + 4


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_embedding_errors_name_the_id_and_the_vocabulary(module):
    weight = tt.zeros(5, 2)
    with pytest.raises(IndexError, match=r"token id 7 .*size 5"):
        module.embedding(np.array([1, 7]), weight)
    with pytest.raises(IndexError, match="token id -1"):
        module.embedding(np.array([-1]), weight)
    with pytest.raises(TypeError, match="integers"):
        module.embedding(np.array([1.0]), weight)


# ----- dropout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_dropout_is_the_identity_when_not_training_or_p_zero(module):
    x = tt.ones(3, 4, requires_grad=True)
    assert module.dropout(x, 0.5, training=False) is x
    assert module.dropout(x, 0.0, training=True) is x
    np.testing.assert_array_equal(module.dropout(x, 1.0, training=True).data, np.zeros((3, 4)))


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_dropout_scales_what_it_keeps_and_follows_the_generator(module):
    x = tt.ones(200, 50)
    out = module.dropout(x, 0.2, generator=np.random.default_rng(3)).data
    assert set(np.unique(out)) <= {0.0, np.float32(1.25)}                  # 1 / (1 - 0.2)
    assert abs((out == 0).mean() - 0.2) < 0.01
    again = module.dropout(x, 0.2, generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(out, again)
    other = module.dropout(x, 0.2, generator=np.random.default_rng(4)).data
    assert not np.array_equal(out, other)


def test_dropout_twins_drop_the_same_elements_from_generators_in_the_same_state():
    fused_generator, composed_generator = np.random.default_rng(9), np.random.default_rng(9)
    x = tt.ones(6, 7)
    for _ in range(3):             # the generators advance in step, call after call
        np.testing.assert_array_equal(F.dropout(x, 0.5, generator=fused_generator).data,
                                      composed.dropout(x, 0.5, generator=composed_generator).data)


def test_dropout_probability_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(tt.ones(2), 1.5)


# ----- attention --------------------------------------------------------------------------------

def reference_attention(q, k, v, visible):
    """softmax(q k^T / sqrt(D)) v in plain NumPy, attending only where `visible` is True."""
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    scores = np.where(visible, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v


def test_causal_mask_is_aligned_to_the_end():
    # Two queries, the newest of four positions: query 0 sits at position 2, query 1 at 3.
    np.testing.assert_array_equal(F.causal_mask(2, 4), [[False, False, False, True],
                                                        [False, False, False, False]])
    np.testing.assert_array_equal(F.causal_mask(3, 3), np.triu(np.ones((3, 3), bool), 1))
    with pytest.raises(ValueError, match="3 queries but only 2 keys"):
        F.causal_mask(3, 2)


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
@pytest.mark.parametrize("n_queries, n_keys", [(4, 4), (2, 5), (1, 3)])
def test_attention_matches_the_definition(module, n_queries, n_keys):
    q, k, v = leaves(0, (2, 3, n_queries, 4), (2, 3, n_keys, 4), (2, 3, n_keys, 5))
    everything = np.ones((n_queries, n_keys), bool)
    np.testing.assert_allclose(module.scaled_dot_product_attention(q, k, v).data,
                               reference_attention(q.data, k.data, v.data, everything),
                               rtol=1e-12)
    # Causal, end-aligned: query i sees keys 0 .. n_keys - n_queries + i.
    sees = np.arange(n_keys)[None, :] <= (n_keys - n_queries + np.arange(n_queries))[:, None]
    np.testing.assert_allclose(
        module.scaled_dot_product_attention(q, k, v, is_causal=True).data,
        reference_attention(q.data, k.data, v.data, sees), rtol=1e-12)


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
def test_causal_attention_ignores_the_future(module):
    q, k, v = leaves(1, (1, 1, 4, 3), (1, 1, 4, 3), (1, 1, 4, 3))
    before = module.scaled_dot_product_attention(q, k, v, is_causal=True).data
    k.data[..., 3, :] += 100.0                     # the last key and value: only query 3 sees
    v.data[..., 3, :] -= 100.0
    after = module.scaled_dot_product_attention(q, k, v, is_causal=True).data
    np.testing.assert_array_equal(after[..., :3, :], before[..., :3, :])
    assert not np.allclose(after[..., 3, :], before[..., 3, :])


def test_attention_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 4\).*\(1, 2, 3, 5\)"):
        F.scaled_dot_product_attention(tt.zeros(1, 2, 3, 4), tt.zeros(1, 2, 3, 5),
                                       tt.zeros(1, 2, 3, 5))


# ----- the same errors from both twins ----------------------------------------------------------

def zeros(*shape):
    return tt.zeros(*shape, dtype=np.float64)


# One mistake per argument check; each must fail the same way on either path.
MISTAKES = {
    "softmax dim out of range": lambda m: m.softmax(zeros(2, 3), dim=2),
    "softmax dim not an int": lambda m: m.softmax(zeros(2, 3), dim=None),
    "log_softmax dim out of range": lambda m: m.log_softmax(zeros(2, 3), dim=-3),
    "softmax of a scalar": lambda m: m.softmax(zeros(), dim=0),
    "cross_entropy target out of range": lambda m: m.cross_entropy(zeros(2, 3), [0, 3]),
    "cross_entropy float targets": lambda m: m.cross_entropy(zeros(2, 3), [0.0, 1.0]),
    "cross_entropy 3-d logits": lambda m: m.cross_entropy(zeros(2, 3, 1), [0, 1]),
    "cross_entropy reduction": lambda m: m.cross_entropy(zeros(2, 3), [0, 1],
                                                         reduction="average"),
    "gelu approximate": lambda m: m.gelu(zeros(2), approximate="none"),
    "layer_norm shape": lambda m: m.layer_norm(zeros(2, 3), (4,)),
    "layer_norm weight": lambda m: m.layer_norm(zeros(2, 3), 3, zeros(4)),
    "layer_norm bias": lambda m: m.layer_norm(zeros(2, 3), 3, None, zeros(2)),
    "layer_norm normalized_shape": lambda m: m.layer_norm(zeros(2, 3), (0,)),
    "rms_norm shape": lambda m: m.rms_norm(zeros(2, 3), (2, 3, 4)),
    "rms_norm eps": lambda m: m.rms_norm(zeros(2, 3), 3, eps=-1e-6),
    "linear features": lambda m: m.linear(zeros(2, 3), zeros(5, 4)),
    "linear bias": lambda m: m.linear(zeros(2, 4), zeros(5, 4), zeros(4)),
    "linear weight 1-d": lambda m: m.linear(zeros(2, 4), zeros(4)),
    "embedding id": lambda m: m.embedding([1, 7], zeros(5, 2)),
    "embedding negative id": lambda m: m.embedding([-1], zeros(5, 2)),
    "embedding float ids": lambda m: m.embedding(np.array([1.0]), zeros(5, 2)),
    "dropout p": lambda m: m.dropout(zeros(2), 1.5),
    "attention head size": lambda m: m.scaled_dot_product_attention(
        zeros(1, 2, 3, 4), zeros(1, 2, 3, 5), zeros(1, 2, 3, 5)),
    "attention causal": lambda m: m.scaled_dot_product_attention(
        zeros(1, 1, 3, 4), zeros(1, 1, 2, 4), zeros(1, 1, 2, 4), is_causal=True),
    "attention heads": lambda m: m.scaled_dot_product_attention(
        zeros(1, 4, 3, 4), zeros(1, 3, 3, 4), zeros(1, 3, 3, 4), enable_gqa=True),
    "attention dropout_p": lambda m: m.scaled_dot_product_attention(
        zeros(1, 1, 3, 4), zeros(1, 1, 3, 4), zeros(1, 1, 3, 4), dropout_p=-0.1),
    "rotary odd": lambda m: m.rotary_embedding(zeros(1, 1, 2, 3), zeros(2, 3), zeros(2, 3)),
    "rotary tables": lambda m: m.rotary_embedding(zeros(1, 1, 2, 4), zeros(3, 4), zeros(3, 4)),
    "gelu_mlp": lambda m: m.gelu_mlp(zeros(2, 4), zeros(8, 4), None, zeros(4, 7), None),
    "swiglu_mlp": lambda m: m.swiglu_mlp(zeros(2, 4), zeros(8, 4), zeros(8, 3), zeros(4, 8)),
    "sequence_log_prob 2-d logits": lambda m: m.sequence_log_prob(zeros(2, 3), [[0, 1, 2]]),
    "sequence_log_prob targets": lambda m: m.sequence_log_prob(zeros(2, 3, 4), [[0, 1, 2]]),
    "sequence_log_prob target out of range": lambda m: m.sequence_log_prob(
        zeros(1, 2, 4), [[0, 4]]),
    "sequence_log_prob float targets": lambda m: m.sequence_log_prob(
        zeros(1, 2, 4), np.array([[0.0, 1.0]])),
    "dpo_loss shapes": lambda m: m.dpo_loss(zeros(3), zeros(3), zeros(3), zeros(2)),
    "dpo_loss 2-d": lambda m: m.dpo_loss(zeros(3, 1), zeros(3, 1), zeros(3, 1), zeros(3, 1)),
    "dpo_loss dtypes": lambda m: m.dpo_loss(zeros(3), zeros(3), tt.zeros(3), tt.zeros(3)),
    "dpo_loss beta": lambda m: m.dpo_loss(zeros(3), zeros(3), zeros(3), zeros(3), beta=0.0),
    "dpo_loss beta nan": lambda m: m.dpo_loss(zeros(1), zeros(1), zeros(1), zeros(1),
                                              beta=float("nan")),
    "dpo_loss reduction": lambda m: m.dpo_loss(zeros(1), zeros(1), zeros(1), zeros(1),
                                               reduction="batchmean"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_both_twins_refuse_a_mistake_with_the_same_message(mistake):
    errors = []
    for module in (F, composed):
        with pytest.raises((ValueError, TypeError, IndexError)) as error:
            MISTAKES[mistake](module)
        errors.append(error.value)
    fused, composed_error = errors
    assert repr(fused) == repr(composed_error)              # the same class and message
    # and it names the function, or the thing that is wrong
    assert any(name in str(fused) for name in (mistake.split()[0], "token id", "targets"))


# ----- numerical stability ----------------------------------------------------------------------

LARGE_LOGITS = {
    "all 1e4": [[1e4, 1e4, 1e4]],
    "all -1e4": [[-1e4, -1e4, -1e4]],
    "mixed": [[1e4, -1e4, 0.0]],
    "one huge": [[0.0, 1e4, 1.0]],
}


def assert_finite_with_finite_gradients(make, *inputs):
    out = make(*inputs)
    assert np.all(np.isfinite(out.data)), out.data
    out.sum().backward()
    for x in inputs:
        assert np.all(np.isfinite(x.grad)), x.grad


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("logits", LARGE_LOGITS.values(), ids=LARGE_LOGITS)
def test_large_logits_stay_finite(module, dtype, logits):
    def fresh():
        return tt.tensor(logits, dtype=dtype, requires_grad=True)
    assert_finite_with_finite_gradients(lambda x: module.softmax(x, dim=-1), fresh())
    assert_finite_with_finite_gradients(lambda x: module.log_softmax(x, dim=-1), fresh())
    for target in range(3):
        assert_finite_with_finite_gradients(
            lambda x: module.cross_entropy(x, np.array([target])), fresh())


def test_large_logits_give_the_right_limits():
    logits = tt.tensor([[1e4, -1e4]], dtype=np.float32)
    assert F.cross_entropy(logits, np.array([0])).item() == 0.0
    assert F.cross_entropy(logits, np.array([1])).item() == pytest.approx(2e4)
    np.testing.assert_array_equal(F.softmax(logits, dim=-1).data, [[1.0, 0.0]])
    np.testing.assert_allclose(F.log_softmax(logits, dim=-1).data, [[0.0, -2e4]])


@pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_with_huge_scores_stays_finite(module, dtype):
    q, k, v = leaves(2, (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4), dtype=dtype)
    q.data *= 100.0                                  # scores q.k / 2 of order 1e4
    k.data *= 100.0
    for is_causal in (False, True):
        for x in (q, k, v):
            x.grad = None
        assert_finite_with_finite_gradients(
            lambda q, k, v: module.scaled_dot_product_attention(q, k, v, is_causal=is_causal),
            q, k, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, make", [
    ("gelu", F.gelu), ("composed gelu", composed.gelu),
    ("sigmoid", lambda x: x.sigmoid()), ("tanh", lambda x: x.tanh()),
])
def test_activations_of_large_inputs_stay_finite(name, make, dtype):
    x = tt.tensor([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], dtype=dtype, requires_grad=True)
    assert_finite_with_finite_gradients(make, x)
