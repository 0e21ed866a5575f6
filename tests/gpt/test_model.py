"""The GPT model: both paths agree, gradients are right, errors are clear, dtypes hold."""
import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig
from tinytorch.graph import nodes

TINY = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)


def tiny_model(dtype=np.float64, **overrides):
    model = GPT(GPTConfig(**{**TINY, **overrides}), seed=0)
    return model.to(dtype)


def batch(seed=0, B=3, T=8, vocab=13):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (B, T)), rng.integers(0, vocab, (B, T))


def run(model, idx, targets):
    model.zero_grad()
    logits, loss = model(idx, targets)
    loss.backward()
    return logits.data, loss.item(), {n: p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_fused_and_composed_paths_agree_forward_and_backward(dropout):
    model = tiny_model(dropout=dropout)
    idx, targets = batch()
    targets[0, :3] = -100
    rng_state = model.dropout_generator.bit_generator.state
    fused = run(model, idx, targets)
    model.config.fused = False
    model.dropout_generator.bit_generator.state = rng_state     # the same dropout masks
    composed = run(model, idx, targets)
    np.testing.assert_allclose(composed[0], fused[0], rtol=1e-9, atol=1e-12)
    assert composed[1] == pytest.approx(fused[1], rel=1e-9, abs=1e-12)
    assert fused[2].keys() == composed[2].keys()
    for name in fused[2]:
        np.testing.assert_allclose(composed[2][name], fused[2][name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_fused_path_uses_fused_nodes_and_composed_path_only_primitives():
    model = tiny_model()
    idx, targets = batch()
    fused_names = {node.fn.__name__ for node in nodes(model(idx, targets)[1])}
    assert {"GeluMLP", "ScaledDotProductAttention", "LayerNorm", "CrossEntropy"} <= fused_names
    model.config.fused = False
    composed_names = {node.fn.__name__ for node in nodes(model(idx, targets)[1])}
    assert not composed_names & {"GeluMLP", "ScaledDotProductAttention", "LayerNorm",
                                 "CrossEntropy", "GELU", "Softmax", "Linear", "Embedding"}


def test_gpt_defines_no_function():
    """Every fused kernel lives in tinytorch.functional beside its composed twin (where the
    twin, gradcheck and float32 tests cover it); gpt only calls them."""
    import importlib
    import pkgutil
    import gpt

    for module in pkgutil.walk_packages(gpt.__path__, prefix="gpt."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)

    def subclasses(cls):
        return [cls] + [s for sub in cls.__subclasses__() for s in subclasses(sub)]

    in_gpt = [f"{cls.__module__}.{cls.__qualname__}" for cls in subclasses(tt.Function)
              if cls.__module__.split(".")[0] == "gpt"]
    assert not in_gpt, f"gpt defines Functions: {in_gpt}; move them to tinytorch.functional"


def test_whole_model_gradcheck_on_a_subset_of_every_parameter():
    model = tiny_model()
    idx, targets = batch(B=2, T=5)
    params = [p for _, p in model.named_parameters()]

    def loss_of(*_params):
        return model(idx, targets)[1]

    assert tt.gradcheck(loss_of, params, n_samples=4, seed=3)


def test_ignored_targets_contribute_nothing():
    model = tiny_model()
    idx, targets = batch()
    masked = targets.copy()
    masked[1] = -100
    _, loss_masked, grads_masked = run(model, idx, masked)
    keep = [0, 2]
    _, loss_kept, grads_kept = run(model, idx[keep], targets[keep])
    assert loss_masked == pytest.approx(loss_kept, rel=1e-12)
    # row 1 is absent from the loss; its tokens still pass through attention in their own row only
    for name in grads_kept:
        np.testing.assert_allclose(grads_masked[name], grads_kept[name], rtol=1e-9, atol=1e-12)


def test_tied_head_is_one_parameter_receiving_both_gradients():
    model = tiny_model()
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and names.count("transformer.wte.weight") == 1
    idx, targets = batch()
    _, _, grads = run(model, idx, targets)
    # the embedding alone only touches rows of ids in idx; the head touches every row
    unused = sorted(set(range(13)) - set(idx.ravel()))
    assert unused and np.all(np.abs(grads["transformer.wte.weight"][unused]).sum(axis=1) > 0)


def test_parameter_names_follow_gpt2():
    names = [n for n, _ in tiny_model().named_parameters()]
    assert names[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    assert "transformer.h.1.attn.c_attn.weight" in names
    assert "transformer.h.0.mlp.c_proj.bias" in names
    assert names[-2:] == ["transformer.ln_f.weight", "transformer.ln_f.bias"]


def test_init_follows_gpt2_and_is_reproducible():
    config = GPTConfig(vocab_size=500, block_size=64, n_layer=4, n_head=4, n_embd=64)
    a, b = GPT(config, seed=7), GPT(config, seed=7)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert np.array_equal(pa.data, pb.data), name
    params = dict(a.named_parameters())
    assert params["transformer.wte.weight"].data.std() == pytest.approx(0.02, rel=0.05)
    assert params["transformer.h.0.attn.c_attn.weight"].data.std() == pytest.approx(0.02, rel=0.05)
    residual_std = 0.02 / np.sqrt(2 * 4)
    assert params["transformer.h.3.mlp.c_proj.weight"].data.std() == pytest.approx(residual_std, rel=0.05)
    assert np.all(params["transformer.h.0.attn.c_attn.bias"].data == 0)
    assert np.all(params["transformer.h.0.ln_1.weight"].data == 1)
    assert not np.array_equal(GPT(config, seed=8).transformer.wte.weight.data,
                              a.transformer.wte.weight.data)


def test_num_parameters_counts_the_tied_head_once():
    C, V, T, L = 8, 13, 8, 2
    per_block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    expected = V * C + T * C + L * per_block + 2 * C
    model = tiny_model()
    assert model.num_parameters() == expected
    assert model.num_parameters(non_embedding=True) == expected - T * C
    assert f"parameters={expected:,}" in repr(model)


def test_float32_by_default_and_float64_when_asked():
    idx, targets = batch()
    model = GPT(GPTConfig(**TINY), seed=0)
    logits, loss = model(idx, targets)
    loss.backward()
    assert logits.dtype == np.float32 and loss.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    model.config.fused = False
    model.zero_grad()
    logits, loss = model(idx, targets)
    loss.backward()
    assert logits.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    model.to(np.float64)
    logits, loss = model(idx, targets)
    assert logits.dtype == np.float64 and loss.dtype == np.float64


def test_bias_false_model_has_no_biases_and_trains():
    model = tiny_model(bias=False)
    assert not [n for n, _ in model.named_parameters() if n.endswith("bias")]
    idx, targets = batch()
    _, loss, grads = run(model, idx, targets)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_dropout_is_on_in_training_and_off_in_eval():
    model = tiny_model(dropout=0.5)
    idx, _ = batch()
    with tt.no_grad():
        first, second = model(idx)[0].data, model(idx)[0].data
        assert not np.array_equal(first, second)
        model.eval()
        assert np.array_equal(model(idx)[0].data, model(idx)[0].data)


def test_clear_errors():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"9 tokens.*block_size=8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(IndexError, match=r"token id 13 .*vocabulary of size 13"):
        model(np.full((1, 4), 13))
    with pytest.raises(TypeError, match="integer token ids"):
        model(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"idx\[None\]"):
        model(np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="n_head"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=3, n_embd=8)
