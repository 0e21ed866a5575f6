"""Generation: what it returns, greedy and sampling, end-of-text, and the KV cache."""
import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig, KVCache
from gpt.sampling import (next_token_probs, next_tokens, sampling_probs, top_k_filter,
                          top_p_filter)


@pytest.fixture(scope="module")
def model():
    config = GPTConfig(vocab_size=17, block_size=12, n_layer=2, n_head=2, n_embd=16)
    return GPT(config, seed=1).to(np.float64)   # float64: no near-ties for argmax to flip


def prompt(B=2, T=4, seed=0):
    return np.random.default_rng(seed).integers(0, 17, (B, T))


def greedy_without_any_cache(model, idx, n):
    """The autoregressive loop written out: full forward over the last block_size tokens."""
    for _ in range(n):
        with tt.no_grad():
            logits, _ = model(idx[:, -model.config.block_size:])
        idx = np.concatenate([idx, logits.data[:, -1].argmax(-1)[:, None]], axis=1)
    return idx


def test_returns_prompt_then_new_tokens(model):
    idx = prompt()
    out = model.generate(idx, 5, temperature=0)
    assert out.dtype == np.int64 and out.shape == (2, 9)
    assert np.array_equal(out[:, :4], idx)


@pytest.mark.parametrize("n_new", [5, 20])       # 20 runs past block_size=12: the window slides
def test_cache_gives_the_same_greedy_tokens_as_no_cache(model, n_new):
    idx = prompt()
    with_cache = model.generate(idx, n_new, temperature=0, use_cache=True)
    without = model.generate(idx, n_new, temperature=0, use_cache=False)
    assert np.array_equal(with_cache, without)
    assert np.array_equal(with_cache, greedy_without_any_cache(model, idx, n_new))


def test_long_prompt_is_cropped_from_the_left(model):
    idx = prompt(T=15)
    out = model.generate(idx, 3, temperature=0)
    assert np.array_equal(out[:, :15], idx)
    assert np.array_equal(out, greedy_without_any_cache(model, idx, 3))


def test_same_seed_same_samples_and_different_seed_different(model):
    idx = prompt()
    a = model.generate(idx, 12, temperature=1.0, seed=5)
    b = model.generate(idx, 12, temperature=1.0, seed=5)
    c = model.generate(idx, 12, temperature=1.0, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(model.generate(idx, 12, seed=5, use_cache=False), a)


def test_top_k_one_is_greedy_and_greedy_ignores_filters(model):
    idx = prompt()
    greedy = model.generate(idx, 6, temperature=0)
    assert np.array_equal(model.generate(idx, 6, temperature=1.0, top_k=1, seed=0), greedy)
    assert np.array_equal(model.generate(idx, 6, temperature=0, top_k=3, top_p=0.2), greedy)


def test_eos_pads_finished_rows_and_stops_when_all_are_done(model):
    idx = prompt()
    free = model.generate(idx, 8, temperature=0)
    eos = int(free[0, 5])                       # row 0 emits this at its second new token
    out = model.generate(idx, 8, temperature=0, eos_token_id=eos)
    row0 = out[0, 4:].tolist()
    first = row0.index(eos)
    assert all(t == eos for t in row0[first:])
    for row in out:
        new = row[4:].tolist()
        if eos in new:
            assert all(t == eos for t in new[new.index(eos):])
    both_done = model.generate(np.array([[eos], [eos]]), 5, temperature=0, eos_token_id=eos)
    assert both_done.shape[1] <= 6


def test_generate_leaves_training_mode_as_it_was(model):
    model.train()
    model.generate(prompt(), 2, temperature=0)
    assert model.training
    model.eval()
    model.generate(prompt(), 2, temperature=0)
    assert not model.training
    model.train()


def test_kv_cache_shapes_grow_one_position_per_step(model):
    cache = KVCache.for_model(model, batch_size=2)
    with tt.no_grad():
        model.transformer(prompt(T=4), cache)
        assert cache.length == 4
        model.transformer(prompt(T=1), cache)
    assert cache.length == 5
    assert cache.keys.shape == (2, 2, 2, 12, 8)
    k, v = KVCache(1, 1, 1, 3, 2).update(0, tt.tensor(np.ones((1, 1, 2, 2))),
                                          tt.tensor(np.ones((1, 1, 2, 2))))
    assert k.shape == (1, 1, 2, 2)


def test_kv_cache_refuses_graph_building(model):
    cache = KVCache.for_model(model, batch_size=1)
    k = tt.tensor(np.ones((1, 2, 1, 8)), requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        cache.update(0, k, k)


def test_top_k_filter_by_hand():
    logits = np.array([[1.0, 3.0, 2.0, 0.0]])
    assert np.array_equal(top_k_filter(logits, 2), [[-np.inf, 3.0, 2.0, -np.inf]])
    assert np.array_equal(top_k_filter(logits, 9), logits)


def test_top_p_filter_by_hand():
    probs = np.array([[0.5, 0.05, 0.3, 0.15]])
    logits = np.log(probs)
    kept = np.isfinite(top_p_filter(logits, 0.7))
    assert kept.tolist() == [[True, False, True, False]]      # 0.5 + 0.3 >= 0.7
    assert np.isfinite(top_p_filter(logits, 0.5)).tolist() == [[True, False, False, False]]
    assert np.isfinite(top_p_filter(logits, 0.1)).sum() == 1       # the top token always stays
    assert np.isfinite(top_p_filter(logits, 1.0)).all()


def test_sampling_follows_the_distribution():
    probs = np.array([0.1, 0.6, 0.3])
    logits = np.tile(np.log(probs), (20000, 1))
    tokens = next_tokens(logits, temperature=1.0, generator=np.random.default_rng(0))
    frequencies = np.bincount(tokens, minlength=3) / len(tokens)
    np.testing.assert_allclose(frequencies, probs, atol=0.015)
    hot = next_tokens(logits[:2000], temperature=0.1, generator=np.random.default_rng(0))
    assert (hot == 1).mean() > 0.99


def test_bad_sampling_arguments():
    logits = np.zeros((1, 3))
    with pytest.raises(ValueError, match="top_p"):
        next_tokens(logits, top_p=0.0)
    with pytest.raises(ValueError, match="top_k"):
        next_tokens(logits, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        next_tokens(logits, temperature=-1)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(max_new_tokens=-3), ValueError, "max_new_tokens must be at least 0, got -3"),
    (dict(max_new_tokens=2.0), TypeError, "max_new_tokens must be an integer, got 2.0"),
    (dict(max_new_tokens=True), TypeError, "max_new_tokens must be an integer, got True"),
    (dict(temperature=float("nan")), ValueError, r"temperature must be a number in \[0, inf\], "
                                                 r"got nan"),
    (dict(temperature=-0.5), ValueError, "temperature must be a number in"),
    (dict(temperature=-float("inf")), ValueError, "temperature must be a number in"),
    (dict(temperature="hot"), TypeError, "temperature must be a number, got 'hot'"),
    (dict(top_k=0), ValueError, "top_k must be at least 1, got 0"),
    (dict(top_k=2.5), TypeError, "top_k must be an integer, got 2.5"),
    (dict(top_p=float("nan")), ValueError, r"top_p must be a number in \(0, 1\], got nan"),
    (dict(top_p=1.5), ValueError, r"top_p must be a number in \(0, 1\]"),
    (dict(eos_token_id=2.0), TypeError, "eos_token_id must be an integer, got 2.0"),
    (dict(eos_token_id=-1), ValueError, "eos_token_id must be at least 0"),
    (dict(seed=-1), ValueError, "seed must be at least 0, got -1"),
    (dict(seed=1.5), TypeError, "seed must be an integer"),
])
def test_bad_generation_arguments_are_errors_before_any_step(model, arguments, error, message):
    for use_cache in (True, False):
        with pytest.raises(error, match=message):
            model.generate(prompt(), **{"max_new_tokens": 3, **arguments}, use_cache=use_cache)


def test_zero_new_tokens_returns_the_prompt_and_a_generator_may_stand_for_the_seed(model):
    idx = prompt()
    assert np.array_equal(model.generate(idx, 0), idx)
    a = model.generate(idx, 4, seed=np.random.default_rng(5))
    assert np.array_equal(a, model.generate(idx, 4, seed=5))      # default_rng(5) either way


def test_infinite_temperature_samples_uniformly():
    logits = np.tile([[10.0, 0.0, -10.0]], (30000, 1))          # very unequal at T = 1
    tokens = next_tokens(logits, temperature=float("inf"), generator=np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(tokens, minlength=3) / len(tokens), [1 / 3] * 3,
                               atol=0.015)


def test_a_tiny_temperature_is_greedy_not_an_overflow():
    # logits / 1e-300 overflow to inf, and inf - inf is nan: the first token would come out
    logits = np.array([[0.5, 2.0, 1.0], [3.0, -1.0, 2.9]], np.float32)
    for temperature in (1e-300, 5e-324):
        assert next_tokens(logits, temperature, generator=np.random.default_rng(0)).tolist() \
            == [1, 0]


def test_sampling_probs_are_next_token_probs_shifted_to_stay_finite():
    logits = np.array([[0.5, 2.0, 1.0, -3.0], [3.0, -1.0, 2.9, 0.0]], np.float32)
    for temperature, top_k, top_p in ((1.0, None, None), (0.6, 3, None), (1.7, 2, 0.5)):
        np.testing.assert_allclose(sampling_probs(logits, temperature, top_k, top_p),
                                   next_token_probs(logits, temperature, top_k, top_p),
                                   rtol=1e-12)
    np.testing.assert_array_equal(sampling_probs(logits, 1e-300), [[0, 1, 0, 0], [1, 0, 0, 0]])
    assert logits.dtype == np.float32 and logits[0, 0] == 0.5        # the caller's, untouched


def test_nan_logits_are_an_error_not_token_zero():
    logits = np.array([[np.nan, 1.0, 2.0]])
    for temperature in (0.0, 1.0):
        with pytest.raises(FloatingPointError, match="logits hold nan or inf"):
            next_tokens(logits, temperature)
