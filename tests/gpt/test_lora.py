"""LoRA: the layer's gradients, what is frozen, that it starts as a no-op, and that merging
changes nothing but the parameter names."""
import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
import tinytorch.functional.composed as composed
from gpt import GPT, GPTConfig
from gpt.finetune.lora import LoRALinear, apply_lora, count_parameters, merge_lora
from tinytorch import nn

TINY = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)


def tiny_model(dtype=np.float64, **overrides):
    return GPT(GPTConfig(**{**TINY, **overrides}), seed=0).to(dtype)


def batch(seed=0, B=3, T=8, vocab=13):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (B, T)), rng.integers(0, vocab, (B, T))


def lora_model(fused=True, randomize_B=True, seed=0):
    """The tiny model, float64, LoRA on the four default layers of each block; B random
    (as after some training) unless asked otherwise."""
    model = tiny_model(fused=fused)
    rng = np.random.default_rng(seed)
    apply_lora(model, rank=2, alpha=4, generator=rng)
    if randomize_B:
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.lora_B.data = rng.standard_normal(module.lora_B.shape) * 0.1
    return model


def logits_of(model, idx):
    with tt.no_grad():
        return model(idx)[0].data


def lora_layer(in_features=5, out_features=3, rank=2, seed=0):
    rng = np.random.default_rng(seed)
    base = nn.Linear(in_features, out_features, generator=rng, dtype=np.float64)
    layer = LoRALinear(base, rank, alpha=3, generator=rng)
    layer.lora_B.data = rng.standard_normal(layer.lora_B.shape)   # else A's gradient is 0
    return layer, rng


# ----- the layer ------------------------------------------------------------------------------

@pytest.mark.parametrize("ops", [F, composed], ids=["fused", "composed"])
def test_lora_linear_gradcheck(ops):
    layer, rng = lora_layer()
    x = tt.tensor(rng.standard_normal((2, 4, 5)), requires_grad=True, dtype=np.float64)
    assert tt.gradcheck(lambda x, A, B: layer(x, ops), [x, layer.lora_A, layer.lora_B])


def test_lora_linear_computes_its_formula():
    layer, rng = lora_layer()
    x = rng.standard_normal((4, 5))
    W, b = layer.base.weight.data, layer.base.bias.data
    A, B = layer.lora_A.data, layer.lora_B.data
    expected = x @ W.T + b + (3 / 2) * (x @ A.T) @ B.T
    np.testing.assert_allclose(layer(tt.tensor(x)).data, expected, rtol=1e-12)


def test_lora_linear_init_shapes_and_passthroughs():
    base = nn.Linear(6, 4, generator=np.random.default_rng(0))
    layer = LoRALinear(base, rank=3, alpha=6, generator=np.random.default_rng(1))
    assert layer.lora_A.shape == (3, 6) and layer.lora_B.shape == (4, 3)
    assert np.all(layer.lora_B.data == 0)
    assert np.all(np.abs(layer.lora_A.data) <= 1 / np.sqrt(6)) and layer.lora_A.data.std() > 0
    assert layer.lora_A.dtype == np.float32 and layer.scaling == 2.0
    assert (layer.in_features, layer.out_features) == (6, 4)
    assert layer.weight is base.weight and layer.bias is base.bias
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert layer.lora_A.requires_grad and layer.lora_B.requires_grad
    assert [n for n, _ in layer.named_parameters()] == ["lora_A", "lora_B", "base.weight",
                                                         "base.bias"]
    again = LoRALinear(nn.Linear(6, 4), rank=3, alpha=6, generator=np.random.default_rng(1))
    assert np.array_equal(again.lora_A.data, layer.lora_A.data)      # the generator decides
    assert repr(layer).startswith("LoRALinear(rank=3, alpha=6\n  (base): Linear(")


def test_float32_stays_float32():
    layer = LoRALinear(nn.Linear(6, 4), rank=2, alpha=8)
    layer.lora_B.data[...] = 1.0
    for ops in (F, composed):
        y = layer(tt.randn(3, 6), ops)
        y.sum().backward()
        assert y.dtype == np.float32
        assert layer.lora_A.grad.dtype == layer.lora_B.grad.dtype == np.float32
        assert layer.merge().weight.dtype == np.float32


def test_rank_too_large_or_not_positive_is_a_clear_error():
    with pytest.raises(ValueError, match=r"rank 5 .*in_features=8 .*out_features=4"):
        LoRALinear(nn.Linear(8, 4), rank=5, alpha=8)
    LoRALinear(nn.Linear(8, 4), rank=4, alpha=8)
    for rank in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            LoRALinear(nn.Linear(8, 4), rank=rank, alpha=8)
    model = tiny_model()
    before = [(n, p.requires_grad) for n, p in model.named_parameters()]
    with pytest.raises(ValueError, match=r"attn\.c_attn: LoRA rank 9 .*in_features=8 "
                                         r".*out_features=24"):
        apply_lora(model, rank=9)
    # checked before anything changed: nothing frozen, nothing wrapped
    assert [(n, p.requires_grad) for n, p in model.named_parameters()] == before
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_lora(model, targets=("c_nothing",))


def test_merge_gives_a_plain_linear_computing_the_same():
    layer, rng = lora_layer()
    x = tt.tensor(rng.standard_normal((3, 5)))
    merged = layer.merge()
    assert type(merged) is nn.Linear
    np.testing.assert_allclose(merged(x).data, layer(x).data, rtol=1e-12, atol=1e-14)
    assert not np.shares_memory(merged.bias.data, layer.base.bias.data)
    assert not merged.weight.requires_grad          # as frozen as the base was


# ----- a wrapped GPT --------------------------------------------------------------------------

def test_apply_lora_wraps_the_targets_and_freezes_everything_else():
    model = lora_model(randomize_B=False)
    names = [n for n, _ in model.named_parameters()]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "transformer.h.0.attn.c_attn.base.weight" in names
    assert "transformer.h.1.mlp.c_proj.base.bias" in names
    assert len(trainable) == 2 * 4 * 2 and all(n.endswith((".lora_A", ".lora_B"))
                                               for n in trainable)
    assert "transformer.h.1.mlp.c_fc.lora_B" in trainable
    # state_dict, train/eval and to(dtype) reach through the wrapper
    assert list(model.state_dict()) == names
    model.eval()
    assert not model.transformer.h[0].attn.c_attn.base.training
    model.to(np.float32)
    assert model.transformer.h[0].mlp.c_fc.lora_A.dtype == np.float32
    assert model.transformer.h[0].mlp.c_fc.base.weight.dtype == np.float32
    # a second call does not wrap the wrappers' own base layers
    with pytest.raises(ValueError, match="already has LoRA layers"):
        apply_lora(model, rank=2)
    assert type(model.transformer.h[0].attn.c_attn.base) is nn.Linear


def test_targets_choose_the_layers():
    model = apply_lora(tiny_model(), rank=2, targets=("c_proj",))
    wrapped = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    assert wrapped == ["transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj",
                       "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_at_init_the_wrapped_model_computes_exactly_what_the_base_did(fused):
    idx, _ = batch()
    model = tiny_model(fused=fused)
    before = logits_of(model, idx)
    apply_lora(model, rank=2, alpha=4, generator=np.random.default_rng(0))
    assert np.array_equal(logits_of(model, idx), before)


def test_frozen_parameters_get_no_gradient_and_no_optimizer_state():
    model = lora_model()
    idx, targets = batch()
    optimizer = tt.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(idx, targets)[1].backward()
    optimizer.step()
    for name, param in model.named_parameters():
        if name.endswith((".lora_A", ".lora_B")):
            assert param.grad is not None and param in optimizer.state, name
        else:
            assert param.grad is None and param not in optimizer.state, name


def test_fused_and_composed_paths_agree_forward_and_backward():
    idx, targets = batch()
    results = []
    for fused in (True, False):
        model = lora_model(fused=fused)
        logits, loss = model(idx, targets)
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        results.append((logits.data, loss.item(), grads))
    (logits_f, loss_f, grads_f), (logits_c, loss_c, grads_c) = results
    np.testing.assert_allclose(logits_c, logits_f, rtol=1e-9, atol=1e-12)
    assert loss_c == pytest.approx(loss_f, rel=1e-9, abs=1e-12)
    assert grads_f.keys() == grads_c.keys() and len(grads_f) == 16
    for name in grads_f:
        np.testing.assert_allclose(grads_c[name], grads_f[name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_wrapped_model_gradcheck_on_the_lora_matrices():
    model = lora_model()
    idx, targets = batch(B=2, T=5)
    params = [p for p in model.parameters() if p.requires_grad]
    assert tt.gradcheck(lambda *_: model(idx, targets)[1], params, n_samples=3, seed=1)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_merging_changes_nothing_but_the_names(fused):
    idx, _ = batch()
    model = lora_model(fused=fused)
    unmerged = logits_of(model, idx)
    plain_names = [n for n, _ in tiny_model().named_parameters()]
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert [n for n, _ in model.named_parameters()] == plain_names
    np.testing.assert_allclose(logits_of(model, idx), unmerged, rtol=0, atol=1e-6)
    # and the merge really moved the weights: the correction is not zero
    assert not np.allclose(unmerged, logits_of(tiny_model(fused=fused), idx), atol=1e-3)


def test_merged_model_saves_and_loads_as_plain_gpt2(tmp_path):
    model = lora_model().to(np.float32)
    idx, _ = batch()
    with pytest.raises(ValueError, match="merge_lora"):
        model.save_pretrained(tmp_path / "unmerged")
    merge_lora(model).save_pretrained(tmp_path / "merged")
    loaded = GPT.from_pretrained(tmp_path / "merged")
    assert np.array_equal(logits_of(loaded, idx), logits_of(model, idx))


def test_count_parameters_by_hand():
    C, V, T, L, r = 8, 13, 8, 2, 2
    per_block = (2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C)
                 + (4 * C * C + C))
    total = V * C + T * C + L * per_block + 2 * C          # the tied head once
    model = tiny_model()
    assert count_parameters(model) == (total, total)
    apply_lora(model, rank=r)
    # r * (in + out) for c_attn (C -> 3C), attn.c_proj (C -> C), c_fc (C -> 4C), mlp.c_proj
    lora = L * r * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C))
    assert count_parameters(model) == (lora, total + lora)


def test_rank_4_on_gpt2_tiny_trains_under_ten_percent(shared_data):
    model = GPT.from_pretrained(shared_data / "gpt2-tiny")
    apply_lora(model, rank=4, alpha=8, generator=np.random.default_rng(0))
    trainable, total = count_parameters(model)
    print(f"gpt2-tiny with rank-4 LoRA: {trainable:,} of {total:,} parameters train "
          f"({trainable / total:.1%})")
    # 2 blocks x 4 x (64+192 + 64+64 + 64+256 + 256+64)
    assert trainable == 8_192 and total == 141_056 + 8_192
    assert trainable / total < 0.10
