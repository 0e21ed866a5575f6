"""Graded tests of the KV-cache chapter (11_kv_cache.py): storing a step's keys and values
after the cached ones, in one layer, and giving back all of them."""
import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig, KVCache


def keys_values(seed, T, B=1, H=2, D=3):
    rng = np.random.default_rng(seed)
    return (tt.tensor(rng.standard_normal((B, H, T, D))),
            tt.tensor(rng.standard_normal((B, H, T, D))))


class TestKVCacheUpdate:
    def test_the_first_step_stores_and_returns_its_keys_and_values(self):
        cache = KVCache(n_layer=3, batch_size=1, n_head=2, max_length=5, head_size=3,
                        dtype=np.float64)
        k, v = keys_values(0, T=2)
        all_k, all_v = cache.update(1, k, v)
        assert isinstance(all_k, tt.Tensor) and isinstance(all_v, tt.Tensor)
        np.testing.assert_array_equal(all_k.data, k.data)
        np.testing.assert_array_equal(all_v.data, v.data)
        np.testing.assert_array_equal(cache.keys[1, :, :, :2], k.data)
        np.testing.assert_array_equal(cache.values[1, :, :, :2], v.data)
        assert cache.length == 0, "update must not move length on (advance does)"

    def test_only_its_own_layer_is_written(self):
        cache = KVCache(3, 1, 2, 5, 3, dtype=np.float64)
        k, v = keys_values(1, T=2)
        cache.update(1, k, v)
        assert not cache.keys[[0, 2]].any() and not cache.values[[0, 2]].any()
        assert not cache.keys[1, :, :, 2:].any()

    def test_later_steps_go_after_the_cached_positions(self):
        cache = KVCache(2, 1, 2, 5, 3, dtype=np.float64)
        steps = [keys_values(seed, T) for seed, T in ((2, 2), (3, 1), (4, 2))]
        for k, v in steps:
            outputs = [cache.update(layer, k, v) for layer in range(2)]
            cache.advance(k.shape[2])
        for all_k, all_v in outputs:
            assert all_k.shape == all_v.shape == (1, 2, 5, 3)
            np.testing.assert_array_equal(all_k.data, np.concatenate([k.data for k, _ in steps], 2))
            np.testing.assert_array_equal(all_v.data, np.concatenate([v.data for _, v in steps], 2))

    def test_several_rows_and_heads(self):
        cache = KVCache(1, 3, 4, 6, 2, dtype=np.float64)
        k1, v1 = keys_values(5, T=4, B=3, H=4, D=2)
        cache.update(0, k1, v1)
        cache.advance(4)
        k2, v2 = keys_values(6, T=1, B=3, H=4, D=2)
        all_k, all_v = cache.update(0, k2, v2)
        np.testing.assert_array_equal(all_k.data, np.concatenate([k1.data, k2.data], 2))
        np.testing.assert_array_equal(all_v.data, np.concatenate([v1.data, v2.data], 2))

    def test_positions_beyond_max_length_are_refused(self):
        cache = KVCache(1, 1, 2, 7, 3, dtype=np.float64)
        cache.update(0, *keys_values(7, T=6))
        cache.advance(6)
        with pytest.raises(ValueError, match=r"\b7\b"):
            cache.update(0, *keys_values(8, T=2))

    def test_tensors_that_build_a_graph_are_refused(self):
        cache = KVCache(1, 1, 2, 4, 3, dtype=np.float64)
        k, v = keys_values(9, T=1)
        k_grad = tt.tensor(k.data, requires_grad=True)
        with pytest.raises(RuntimeError, match="no_grad"):
            cache.update(0, k_grad, v)
        with pytest.raises(RuntimeError, match="no_grad"):
            cache.update(0, k, tt.tensor(v.data, requires_grad=True))

    def test_a_model_generates_the_same_tokens_with_and_without_it(self):
        config = GPTConfig(vocab_size=19, block_size=10, n_layer=3, n_head=2, n_embd=8)
        model = GPT(config, seed=3).to(np.float64)
        idx = np.random.default_rng(0).integers(0, 19, (2, 3))
        with_cache = model.generate(idx, 12, temperature=0, use_cache=True)
        without = model.generate(idx, 12, temperature=0, use_cache=False)
        np.testing.assert_array_equal(with_cache, without)
