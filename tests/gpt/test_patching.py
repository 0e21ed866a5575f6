"""Activation patching: activations from a clean run put into a corrupted one."""
import copy
from dataclasses import replace

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from gpt.inspection.patching import (Patch, activation_patching, answer_log_prob,
                                     patched_logits, record_activations)

CONFIG = GPTConfig(vocab_size=43, block_size=16, n_layer=3, n_head=2, n_embd=20)
T = 9
CLEAN = np.random.default_rng(0).integers(0, 43, (2, T))
CORRUPTED = CLEAN.copy()
CORRUPTED[:, 2] = (CLEAN[:, 2] + 7) % 43             # one token changed, at position 2
STREAMS = ["embed"] + [f"h.{i}.resid" for i in range(CONFIG.n_layer)]
HEADS = [f"h.{i}.attn.heads" for i in range(CONFIG.n_layer)]


def logits_of(model, idx):
    model.eval()
    logits, _ = model(idx)
    return logits.data


@pytest.fixture(params=[True, False], ids=["fused", "composed"])
def model(request):
    return GPT(replace(CONFIG, fused=request.param), seed=11)


def test_patching_the_stream_of_any_depth_at_every_position_restores_the_clean_logits(model):
    clean = record_activations(model, CLEAN, STREAMS + HEADS)
    expected = logits_of(model, CLEAN)
    for name in STREAMS:
        np.testing.assert_array_equal(patched_logits(model, CORRUPTED, clean, [Patch(name)]),
                                      expected, err_msg=name)
    # every depth at once, too
    np.testing.assert_array_equal(
        patched_logits(model, CORRUPTED, clean, [Patch(name) for name in STREAMS]), expected)
    result = activation_patching(model, CLEAN, CORRUPTED, [Patch(name) for name in STREAMS])
    np.testing.assert_array_equal(result.restored, np.ones(len(STREAMS)))


def test_patching_nothing_or_what_did_not_change_restores_nothing(model):
    corrupted = logits_of(model, CORRUPTED)
    clean = record_activations(model, CLEAN, STREAMS)
    np.testing.assert_array_equal(patched_logits(model, CORRUPTED, clean, []), corrupted)
    np.testing.assert_array_equal(
        patched_logits(model, CORRUPTED, clean, [Patch("h.1.resid", positions=())]), corrupted)
    # the embeddings differ only at position 2: taking the others from the clean run is a no-op
    others = tuple(p for p in range(T) if p != 2)
    np.testing.assert_array_equal(
        patched_logits(model, CORRUPTED, clean, [Patch("embed", positions=others)]), corrupted)
    result = activation_patching(model, CLEAN, CORRUPTED, [Patch("embed", positions=others),
                                                           Patch("embed", positions=(2,))])
    assert result.restored[0] == 0.0
    assert result.restored[1] == 1.0        # the one changed token: the prompts are the same


def test_a_patch_changes_nothing_before_its_position(model):
    # attention is causal: positions before the patched one never see it
    clean = record_activations(model, CLEAN, STREAMS + HEADS)
    corrupted = logits_of(model, CORRUPTED)
    for patch in (Patch("h.0.resid", positions=(5,)), Patch("h.1.attn.heads", (6, 7), head=1)):
        patched = patched_logits(model, CORRUPTED, clean, [patch])
        first = min(patch.positions)
        np.testing.assert_array_equal(patched[:, :first], corrupted[:, :first])
        assert not np.allclose(patched[:, first:], corrupted[:, first:])


def test_the_last_stream_at_the_last_position_decides_the_answer(model):
    last = f"h.{CONFIG.n_layer - 1}.resid"
    result = activation_patching(model, CLEAN, CORRUPTED, [Patch(last, positions=(T - 1,)),
                                                           Patch(last, positions=(T - 2,))])
    assert result.restored[0] == 1.0 and result.restored[1] == 0.0


def test_a_head_patched_from_zeros_is_that_head_ablated(model):
    # an independent path to the same numbers: a head's output of zeros is its c_proj columns
    # zeroed (tests/gpt/test_ablation.py checks the same identity for the ablation)
    D = CONFIG.head_size
    layer, head = 1, 1
    zeros = {f"h.{layer}.attn.heads": np.zeros((2, CONFIG.n_head, T, D), np.float32)}
    patched = patched_logits(model, CORRUPTED, zeros, [Patch(f"h.{layer}.attn.heads",
                                                             head=head)])
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h[layer].attn.c_proj.weight.data[:, head * D:(head + 1) * D] = 0.0
    np.testing.assert_allclose(patched, logits_of(by_hand, CORRUPTED), rtol=1e-5, atol=1e-6)


def test_the_numbers_of_a_result_by_hand(model):
    patches = [Patch("h.0.resid", positions=(2,)), [Patch("h.0.attn.heads", head=0),
                                                    Patch("h.2.attn.heads", (8,), head=1)]]
    result = activation_patching(model, CLEAN, CORRUPTED, patches)
    clean_logits = logits_of(model, CLEAN)
    answer = clean_logits[:, -1].argmax(axis=-1)
    np.testing.assert_array_equal(result.answer, answer)

    def log_prob(logits):
        last = logits[:, -1].astype(np.float64)
        log_z = np.log(np.exp(last - last.max(-1, keepdims=True)).sum(-1)) + last.max(-1)
        return np.mean(last[[0, 1], answer] - log_z)

    assert result.clean == pytest.approx(log_prob(clean_logits), abs=1e-12)
    assert result.corrupted == pytest.approx(log_prob(logits_of(model, CORRUPTED)), abs=1e-12)
    clean = record_activations(model, CLEAN, ["h.0.resid", "h.0.attn.heads", "h.2.attn.heads"])
    for i, group in enumerate([[patches[0]], patches[1]]):
        assert result.patched[i] == pytest.approx(
            log_prob(patched_logits(model, CORRUPTED, clean, group)), abs=1e-12)
    np.testing.assert_allclose(result.restored, (result.patched - result.corrupted)
                               / (result.clean - result.corrupted), rtol=1e-12)
    assert answer_log_prob(clean_logits, answer) == result.clean


def test_a_given_answer_for_all_rows_or_one_per_row():
    model = GPT(CONFIG, seed=12)
    one = activation_patching(model, CLEAN, CORRUPTED, [Patch("embed")], answer=5)
    each = activation_patching(model, CLEAN, CORRUPTED, [Patch("embed")], answer=[5, 5])
    np.testing.assert_array_equal(one.answer, [5, 5])
    assert one.clean == each.clean and one.corrupted == each.corrupted
    assert one.restored[0] == 1.0


def test_the_mode_comes_back_and_dropout_stays_off():
    model = GPT(replace(CONFIG, dropout=0.5), seed=13)
    model.train()
    patches = [Patch("h.1.resid", positions=(4,))]
    first = activation_patching(model, CLEAN, CORRUPTED, patches)
    again = activation_patching(model, CLEAN, CORRUPTED, patches)
    assert model.training
    assert first.patched[0] == again.patched[0] and first.clean == again.clean


@pytest.mark.parametrize("patches, kwargs, error, message", [
    ([Patch("h.3.resid")], {}, KeyError, "no activation named 'h.3.resid'"),
    ([Patch("h.0.mlp")], {}, KeyError, "'h.0.mlp'"),
    ([Patch("h.0.resid", positions=(9,))], {}, ValueError,
     "position 9 does not exist: the prompt has positions 0 to 8"),
    ([Patch("h.0.resid", positions=(-1,))], {}, ValueError, "position -1 does not exist"),
    ([Patch("h.0.resid", positions=(1.5,))], {}, TypeError, "position must be an integer"),
    ([Patch("h.0.resid", positions=3)], {}, TypeError, "positions must be a sequence"),
    ([Patch("h.0.resid", head=1)], {}, ValueError, "only the heads' outputs"),
    ([Patch("h.0.attn.heads", head=2)], {}, ValueError,
     "head 2 does not exist: the model has heads 0 to 1"),
    (["h.0.resid"], {}, TypeError, "a patch must be a Patch"),
    ([Patch("embed")], {"answer": 43}, ValueError,
     "token id 43 does not exist: the vocabulary has token ids 0 to 42"),
    ([Patch("embed")], {"answer": [1, 2, 3]}, ValueError, "3 answers for 2 prompts"),
    ([Patch("embed")], {"answer": 2.0}, TypeError, "token id must be an integer"),
])
def test_mistakes_are_named(patches, kwargs, error, message):
    model = GPT(CONFIG, seed=14)
    with pytest.raises(error) as refused:
        activation_patching(model, CLEAN, CORRUPTED, patches, **kwargs)
    assert message in str(refused.value)


def test_prompts_of_different_shapes_or_the_same_answer_are_refused():
    model = GPT(CONFIG, seed=15)
    with pytest.raises(ValueError, match=r"clean prompt \(2, 9\) and the corrupted prompt "
                                         r"\(2, 8\) must have the same shape"):
        activation_patching(model, CLEAN, CORRUPTED[:, :8], [Patch("embed")])
    with pytest.raises(ValueError, match="nothing to restore"):
        activation_patching(model, CLEAN, CLEAN.copy(), [Patch("embed")])


def test_clean_activations_of_another_shape_or_missing_are_named():
    model = GPT(CONFIG, seed=16)
    clean = record_activations(model, CLEAN[:1], ["h.0.resid"])        # one row, not two
    with pytest.raises(ValueError, match=r"clean run's h.0.resid is \(1, 9, 20\) but this "
                                         r"run's is \(2, 9, 20\)"):
        patched_logits(model, CORRUPTED, clean, [Patch("h.0.resid")])
    with pytest.raises(KeyError, match="no clean activation named 'h.1.resid'"):
        patched_logits(model, CORRUPTED, clean, [Patch("h.1.resid")])
