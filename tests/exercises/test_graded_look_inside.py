"""Graded tests of the look-inside chapter (23_look_inside.py): the logit lens's read-out of a
residual stream, and patching one activation from a clean run into a corrupted one."""
from dataclasses import replace

import numpy as np
import pytest

from exercise_checks import read_only
from gpt import GPT, GPTConfig
from gpt.inspection.lens import read_out, residual_streams
from gpt.inspection.patching import patch_activation

CONFIG = GPTConfig(vocab_size=29, block_size=12, n_layer=2, n_head=2, n_embd=16,
                   layer_norm_epsilon=0.25)
IDX = np.random.default_rng(0).integers(0, 29, (3, 7))


def trained_looking(config, seed=1):
    """A GPT whose final norm has a weight and a bias far from 1 and 0 (as after training),
    so that a read-out that leaves them out, or uses another epsilon, shows."""
    model = GPT(config, seed=seed)
    rng = np.random.default_rng(seed)
    model.transformer.ln_f.weight.data[:] = rng.uniform(0.3, 3.0, config.n_embd)
    if model.transformer.ln_f.bias is not None:
        model.transformer.ln_f.bias.data[:] = rng.uniform(-1.0, 1.0, config.n_embd)
    return model


def by_hand(model, streams):
    """head(ln_f(stream)) in float64 NumPy: layer norm with the model's epsilon, weight and
    bias, then the tied head (wte^T)."""
    ln_f, eps = model.transformer.ln_f, model.config.layer_norm_epsilon
    x = streams.astype(np.float64)
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    normed = normed * ln_f.weight.data
    if ln_f.bias is not None:
        normed = normed + ln_f.bias.data
    return normed @ model.transformer.wte.weight.data.astype(np.float64).T


class TestLogitLensReadout:
    @pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
    def test_the_last_depth_reads_out_the_model_s_own_logits(self, fused):
        model = trained_looking(replace(CONFIG, fused=fused))
        logits = read_out(model, read_only(residual_streams(model, IDX)))
        expected, _ = model(IDX)
        assert isinstance(logits, np.ndarray) and logits.shape == (3, 3, 7, 29)
        np.testing.assert_allclose(logits[-1], expected.data, rtol=1e-5, atol=1e-5)

    def test_every_depth_is_the_final_norm_then_the_head(self):
        model = trained_looking(CONFIG, seed=2)
        streams = read_only(residual_streams(model, IDX))
        np.testing.assert_allclose(read_out(model, streams), by_hand(model, streams),
                                   rtol=1e-4, atol=1e-4)

    def test_any_streams_of_any_count(self):
        model = trained_looking(replace(CONFIG, bias=False), seed=3)
        streams = read_only(np.random.default_rng(4).standard_normal((5, 2, 4, 16)) * 3.0 + 1.0)
        streams = read_only(streams.astype(np.float32))
        logits = read_out(model, streams)
        assert logits.shape == (5, 2, 4, 29)
        np.testing.assert_allclose(logits, by_hand(model, streams), rtol=1e-4, atol=1e-4)
        one = read_out(model, streams[:1])
        assert one.shape == (1, 2, 4, 29)
        np.testing.assert_allclose(one[0], logits[0], rtol=1e-5, atol=1e-5)

    def test_float32_in_float32_out_and_the_model_keeps_its_mode(self):
        model = trained_looking(replace(CONFIG, dropout=0.5), seed=5)
        model.train()
        streams = read_only(np.random.default_rng(6).standard_normal((3, 1, 2, 16))
                            .astype(np.float32))
        logits = read_out(model, streams)
        assert logits.dtype == np.float32
        assert model.training, "the model was left in evaluation mode"
        np.testing.assert_allclose(logits, by_hand(model, streams), rtol=1e-4, atol=1e-4)


def activations(*shape, seed):
    return read_only(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class TestPatchActivation:
    def test_a_residual_stream_at_two_positions(self):
        clean, corrupted = activations(2, 6, 5, seed=0), activations(2, 6, 5, seed=1)
        patched = patch_activation(clean, corrupted, [1, 4])
        expected = corrupted.copy()
        expected[:, [1, 4]] = clean[:, [1, 4]]            # every row of the batch alike
        np.testing.assert_array_equal(patched, expected)
        assert patched.dtype == np.float32

    def test_one_head_of_the_heads_output(self):
        clean, corrupted = activations(2, 3, 6, 4, seed=2), activations(2, 3, 6, 4, seed=3)
        patched = patch_activation(clean, corrupted, (0, 5), head=2)
        expected = corrupted.copy()
        expected[:, 2, [0, 5]] = clean[:, 2, [0, 5]]      # the other heads stay corrupted
        np.testing.assert_array_equal(patched, expected)

    def test_every_head_when_none_is_chosen(self):
        clean, corrupted = activations(1, 3, 6, 4, seed=4), activations(1, 3, 6, 4, seed=5)
        patched = patch_activation(clean, corrupted, [2])
        expected = corrupted.copy()
        expected[:, :, 2] = clean[:, :, 2]
        np.testing.assert_array_equal(patched, expected)

    @pytest.mark.parametrize("positions", [[-1], (3, 0, 3), range(1, 3), np.array([4, 2])],
                             ids=["negative", "unsorted with a repeat", "a range", "an array"])
    def test_positions_as_numpy_indexes_them(self, positions):
        clean, corrupted = activations(2, 5, 3, seed=6), activations(2, 5, 3, seed=7)
        patched = patch_activation(clean, corrupted, positions)
        chosen = np.zeros(5, dtype=bool)
        chosen[list(positions)] = True
        np.testing.assert_array_equal(patched[:, chosen], clean[:, chosen])
        np.testing.assert_array_equal(patched[:, ~chosen], corrupted[:, ~chosen])

    def test_no_positions_is_a_copy_of_the_corrupted_run(self):
        clean, corrupted = activations(1, 4, 3, seed=8), activations(1, 4, 3, seed=9)
        patched = patch_activation(clean, corrupted, [])
        np.testing.assert_array_equal(patched, corrupted)
        assert patched is not corrupted

    def test_neither_argument_is_written_into(self):
        # writable copies: an answer that patches corrupted in place changes it here
        clean = np.array(activations(2, 3, 5, 2, seed=10))
        corrupted = np.array(activations(2, 3, 5, 2, seed=11))
        clean_copy, corrupted_copy = clean.copy(), corrupted.copy()
        patched = patch_activation(clean, corrupted, [1, 2], head=0)
        np.testing.assert_array_equal(clean, clean_copy)
        np.testing.assert_array_equal(corrupted, corrupted_copy)
        patched[:] = 0.0                                  # the result shares no memory either
        np.testing.assert_array_equal(corrupted, corrupted_copy)
        np.testing.assert_array_equal(clean, clean_copy)
