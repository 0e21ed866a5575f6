"""Head ablation: zeroing one attention head's output and measuring the loss without it."""
import copy
from dataclasses import replace

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from gpt.inspection.ablation import ablated_loss, head_ablation, zero_heads

CONFIG = GPTConfig(vocab_size=41, block_size=16, n_layer=2, n_head=3, n_embd=24)
rng = np.random.default_rng(0)
IDX = rng.integers(0, 41, (2, 9))
TARGETS = rng.integers(0, 41, (2, 9))


def loss_of(model, idx=IDX, targets=TARGETS):
    model.eval()
    _, loss = model(idx, targets)
    return loss.item()


@pytest.mark.parametrize("fused", [True, False])
def test_ablating_nothing_changes_nothing(fused):
    model = GPT(replace(CONFIG, fused=fused), seed=1)
    assert ablated_loss(model, IDX, TARGETS, heads=[]) == loss_of(model)
    assert zero_heads(model, []) == {}


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("layer, head", [(0, 0), (0, 2), (1, 1)])
def test_zeroing_a_head_is_zeroing_its_columns_of_c_proj(fused, layer, head):
    # head h's output enters c_proj through columns h*D ... (h+1)*D - 1 of its weight: zero
    # them in a copy of the model and it computes what the ablation computes
    model = GPT(replace(CONFIG, fused=fused), seed=2)
    D = CONFIG.head_size
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h[layer].attn.c_proj.weight.data[:, head * D:(head + 1) * D] = 0.0
    ablated = ablated_loss(model, IDX, TARGETS, heads=[(layer, head)])
    assert ablated == pytest.approx(loss_of(by_hand), rel=1e-6)
    assert ablated != loss_of(model)


def test_zeroing_every_head_of_a_block_leaves_only_c_proj_s_bias():
    model = GPT(CONFIG, seed=3)
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h[1].attn.c_proj.weight.data[:] = 0.0
    heads = [(1, h) for h in range(CONFIG.n_head)]
    assert ablated_loss(model, IDX, TARGETS, heads) == pytest.approx(loss_of(by_hand), rel=1e-6)


def test_heads_of_two_blocks_at_once():
    model = GPT(CONFIG, seed=4)
    D = CONFIG.head_size
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h[0].attn.c_proj.weight.data[:, :D] = 0.0
    by_hand.transformer.h[1].attn.c_proj.weight.data[:, 2 * D:] = 0.0
    ablated = ablated_loss(model, IDX, TARGETS, [(0, 0), (1, 2), (0, 0)])   # a repeat is one
    assert ablated == pytest.approx(loss_of(by_hand), rel=1e-6)


def test_the_sweep_zeroes_each_head_alone_and_ranks_them():
    model = GPT(CONFIG, seed=5)
    sweep = head_ablation(model, IDX, TARGETS)
    assert sweep.clean_loss == loss_of(model)
    assert sweep.losses.shape == (CONFIG.n_layer, CONFIG.n_head)
    for layer in range(CONFIG.n_layer):
        for head in range(CONFIG.n_head):
            assert sweep.losses[layer, head] == ablated_loss(model, IDX, TARGETS,
                                                             [(layer, head)])
    np.testing.assert_array_equal(sweep.increase, sweep.losses - sweep.clean_loss)
    ranked = sweep.ranked()
    assert sorted((layer, head) for layer, head, _ in ranked) == [
        (layer, head) for layer in range(CONFIG.n_layer) for head in range(CONFIG.n_head)]
    increases = [increase for _, _, increase in ranked]
    assert increases == sorted(increases, reverse=True)
    assert ranked[0][2] == sweep.increase.max()


def test_positions_marked_minus_100_do_not_count():
    model = GPT(CONFIG, seed=6)
    targets = TARGETS.copy()
    targets[:, :5] = -100
    sweep = head_ablation(model, IDX, targets)
    assert sweep.clean_loss == loss_of(model, targets=targets)
    assert sweep.losses[1, 0] == pytest.approx(
        ablated_loss(model, IDX[:, :], targets, [(1, 0)]))
    # only the last 4 positions count: the same sweep on the loss of those positions alone
    assert not np.allclose(sweep.losses, head_ablation(model, IDX, TARGETS).losses)


def test_dropout_is_off_during_the_ablation_and_the_mode_comes_back():
    model = GPT(replace(CONFIG, dropout=0.3), seed=7)
    model.train()
    first = head_ablation(model, IDX, TARGETS)
    again = head_ablation(model, IDX, TARGETS)
    np.testing.assert_array_equal(first.losses, again.losses)
    assert model.training
    model.eval()
    assert first.clean_loss == loss_of(model)


@pytest.mark.parametrize("heads, message", [
    ([(2, 0)], "layer 2 does not exist: the model has layers 0 to 1"),
    ([(-1, 0)], "layer -1 does not exist"),
    ([(0, 3)], "head 3 does not exist: the model has heads 0 to 2"),
    ([(1, -1)], "head -1 does not exist"),
    ([(0, 1.0)], "head must be an integer, got 1.0"),
    ([(True, 0)], "layer must be an integer, got True"),
    ([(0, 1, 2)], "a (layer, head) pair, got (0, 1, 2)"),
    ([3], "a (layer, head) pair, got 3"),
])
def test_heads_that_do_not_exist_are_named(heads, message):
    model = GPT(CONFIG, seed=0)
    with pytest.raises((ValueError, TypeError)) as refused:
        ablated_loss(model, IDX, TARGETS, heads)
    assert message in str(refused.value)
