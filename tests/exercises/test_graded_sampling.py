"""Graded tests of the sampling chapter (09_sampling.py): the top-k and top-p filters and the
distribution next_tokens draws from (temperature, then top-k, then top-p)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exercise_checks import read_only
from gpt.sampling import next_token_probs, top_k_filter, top_p_filter

NEG_INF = -np.inf


def kept(filtered):
    return np.isfinite(filtered).tolist()


def softmax_rows(logits):
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


# Several rows in different orders: a filter that works out its cut from row 0 alone fails.
ROWS = read_only(np.log(np.array([
    [0.50, 0.05, 0.30, 0.15],
    [0.05, 0.15, 0.30, 0.50],
    [0.30, 0.50, 0.15, 0.05],
    [0.97, 0.01, 0.01, 0.01],
])))


class TestTopKFilter:
    def test_by_hand(self):
        logits = np.array([[1.0, 3.0, 2.0, 0.0]])
        np.testing.assert_array_equal(top_k_filter(logits, 2), [[NEG_INF, 3.0, 2.0, NEG_INF]])
        np.testing.assert_array_equal(top_k_filter(logits, 1), [[NEG_INF, 3.0, NEG_INF, NEG_INF]])

    def test_each_row_by_its_own_values(self):
        assert kept(top_k_filter(ROWS, 2)) == [[True, False, True, False],
                                               [False, False, True, True],
                                               [True, True, False, False],
                                               [True, True, True, True]]  # ties with the 2nd

    def test_ties_with_the_kth_are_kept(self):
        logits = np.array([[2.0, 1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 3.0]])
        assert kept(top_k_filter(logits, 1)) == [[True, False, True, False],
                                                 [False, False, False, True]]
        assert kept(top_k_filter(logits, 2)) == [[True, False, True, False],
                                                 [True, True, True, True]]

    def test_k_of_the_whole_vocabulary_or_more_keeps_everything(self):
        np.testing.assert_array_equal(top_k_filter(ROWS, 4), ROWS)
        np.testing.assert_array_equal(top_k_filter(ROWS, 50), ROWS)

    @given(seed=st.integers(0, 10_000), k=st.integers(1, 9))
    def test_random_rows(self, seed, k):
        logits = np.random.default_rng(seed).standard_normal((5, 9))
        filtered = top_k_filter(logits, k)
        for row, out in zip(logits, filtered):
            kth = np.sort(row)[::-1][k - 1]
            np.testing.assert_array_equal(out, np.where(row >= kth, row, NEG_INF))

    def test_the_logits_are_left_alone(self):
        logits = ROWS.copy()
        top_k_filter(logits, 1)
        np.testing.assert_array_equal(logits, ROWS)


def nucleus_by_loop(row, p):
    """The kept mask of one row: most likely first, keep while the mass before is below p."""
    probs = softmax_rows(row)
    keep = np.zeros(len(row), bool)
    mass = 0.0
    for i in np.argsort(-row, kind="stable"):
        if mass >= p:
            break
        keep[i] = True
        mass += probs[i]
    return keep


class TestTopPFilter:
    def test_by_hand(self):
        logits = ROWS[:1]
        assert kept(top_p_filter(logits, 0.7)) == [[True, False, True, False]]  # 0.5 + 0.3
        assert kept(top_p_filter(logits, 0.45)) == [[True, False, False, False]]
        assert kept(top_p_filter(logits, 0.9)) == [[True, False, True, True]]

    def test_each_row_sorted_by_its_own_values(self):
        assert kept(top_p_filter(ROWS, 0.7)) == [[True, False, True, False],
                                                 [False, False, True, True],
                                                 [True, True, False, False],
                                                 [True, False, False, False]]

    def test_the_most_likely_token_always_stays(self):
        assert kept(top_p_filter(ROWS, 0.01)) == [[True, False, False, False],
                                                  [False, False, False, True],
                                                  [False, True, False, False],
                                                  [True, False, False, False]]

    @pytest.mark.parametrize("p, n_kept", [(0.25, 1), (0.5, 2), (0.6, 3), (0.75, 3), (1.0, 4)])
    def test_the_smallest_set_that_reaches_p(self, p, n_kept):
        # four equal tokens of exactly 0.25 each: two of them reach 0.5 exactly, so the third
        # is not needed (which two is a matter of ties, and not checked)
        assert np.isfinite(top_p_filter(np.zeros((2, 4)), p)).sum(axis=-1).tolist() == [n_kept] * 2

    def test_p_of_one_keeps_everything(self):
        assert np.isfinite(top_p_filter(ROWS, 1.0)).all()

    def test_kept_logits_are_unchanged(self):
        filtered = top_p_filter(ROWS, 0.7)
        np.testing.assert_array_equal(filtered[np.isfinite(filtered)],
                                      ROWS[np.isfinite(filtered)])

    def test_large_logits(self):
        logits = np.array([[1000.0, 999.0, 990.0, 1001.0], [-1000.0, -1001.0, -990.0, -995.0]])
        assert kept(top_p_filter(logits, 0.95)) == [[True, True, False, True],
                                                    [False, False, True, False]]

    @given(seed=st.integers(0, 10_000), p=st.floats(0.05, 0.95))
    def test_random_rows(self, seed, p):
        logits = np.random.default_rng(seed).standard_normal((6, 8)) * 2.0
        filtered = top_p_filter(logits, p)
        for row, out in zip(logits, filtered):
            keep = nucleus_by_loop(row, p)
            np.testing.assert_array_equal(out, np.where(keep, row, NEG_INF))

    def test_the_logits_are_left_alone(self):
        logits = ROWS.copy()
        top_p_filter(logits, 0.5)
        np.testing.assert_array_equal(logits, ROWS)


LOGITS = read_only([[2.0, 1.0, 0.5, -1.0, 0.0], [0.0, 3.0, 1.0, 1.5, -2.0]])


class TestNextTokenProbs:
    @pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0, 0.1])
    def test_temperature_divides_the_logits(self, temperature):
        probs = next_token_probs(LOGITS, temperature)
        np.testing.assert_allclose(probs, softmax_rows(LOGITS / temperature), rtol=1e-12)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-12)

    def test_top_k_then_renormalised(self):
        probs = next_token_probs(LOGITS, 1.0, top_k=2)
        expected = softmax_rows(np.array([[2.0, 1.0, NEG_INF, NEG_INF, NEG_INF],
                                          [NEG_INF, 3.0, NEG_INF, 1.5, NEG_INF]]))
        np.testing.assert_allclose(probs, expected, rtol=1e-12)

    def test_top_k_before_top_p(self):
        # p = [0.4, 0.3, 0.2, 0.1]: top-k 2 leaves [4/7, 3/7], whose nucleus for 0.5 is one
        # token; top-p first would keep two
        logits = np.log(np.array([[0.4, 0.3, 0.2, 0.1]]))
        np.testing.assert_allclose(next_token_probs(logits, 1.0, top_k=2, top_p=0.5),
                                   [[1.0, 0.0, 0.0, 0.0]], atol=1e-12)

    def test_temperature_before_top_p(self):
        # p = [0.7, 0.2, 0.05, 0.05]: the nucleus of 0.5 is one token; at T = 3 the
        # distribution is flatter ([0.40, 0.26, 0.17, 0.17]) and the nucleus is two
        logits = np.log(np.array([[0.7, 0.2, 0.05, 0.05]])) + 0.3
        probs = next_token_probs(logits, 3.0, top_p=0.5)
        flat = softmax_rows(logits / 3.0)
        assert (probs > 0).tolist() == [[True, True, False, False]]
        np.testing.assert_allclose(probs[0, :2], flat[0, :2] / flat[0, :2].sum(), rtol=1e-12)

    def test_float64_whatever_the_logits(self):
        logits = (LOGITS * 10.0).astype(np.float32)
        probs = next_token_probs(logits, 0.05)
        assert probs.dtype == np.float64
        np.testing.assert_allclose(probs, softmax_rows(logits.astype(np.float64) / 0.05),
                                   rtol=1e-9, atol=1e-300)

    def test_large_logits(self):
        probs = next_token_probs(LOGITS * 500.0, 0.7, top_k=3, top_p=0.9)
        assert np.isfinite(probs).all()
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0)

    def test_the_logits_are_left_alone(self):
        logits = LOGITS.copy()
        next_token_probs(logits, 0.5, top_k=2, top_p=0.8)
        np.testing.assert_array_equal(logits, LOGITS)
