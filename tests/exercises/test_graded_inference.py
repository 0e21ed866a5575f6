"""Graded tests of the inference chapters: one beam-search step (19_beam_search.py), the
speculative acceptance rule (20_speculative_decoding.py), quantising and dequantising rows
(21_int8.py)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from exercise_checks import read_only
from gpt.beam_search import select_candidates
from gpt.quantize import dequantize_rows, quantize_rows
from gpt.speculative import verify_token

LOG_PROBS = read_only(np.log(np.array([
    [[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]],               # row 0: beams 0 and 1
    [[0.1, 0.1, 0.8], [0.2, 0.7, 0.1]],                 # row 1: another order
], np.float32)))
BEAM_SCORES = read_only(np.array([[0.0, -1.0], [-2.0, -0.5]], np.float32))


class TestSelectCandidates:
    def test_by_hand(self):
        scores, beams, tokens = select_candidates(BEAM_SCORES, LOG_PROBS, 3)
        # row 0 totals: beam 0 -0.69 -1.20 -1.61, beam 1 -1.11 -4.00 -4.00
        assert beams[0].tolist() == [0, 1, 0] and tokens[0].tolist() == [0, 0, 1]
        # row 1 totals: beam 0 -4.30 -4.30 -2.22, beam 1 -2.11 -0.86 -2.80
        assert beams[1].tolist() == [1, 1, 0] and tokens[1].tolist() == [1, 0, 2]
        expected = [[np.log(0.5), -1 + np.log(0.9), np.log(0.3)],
                    [-0.5 + np.log(0.7), -0.5 + np.log(0.2), -2 + np.log(0.8)]]
        np.testing.assert_allclose(scores, expected, rtol=1e-6)

    def test_shapes_and_dtype(self):
        scores, beams, tokens = select_candidates(BEAM_SCORES, LOG_PROBS, 4)
        assert scores.shape == beams.shape == tokens.shape == (2, 4)
        assert scores.dtype == np.float32
        assert beams.dtype.kind in "iu" and tokens.dtype.kind in "iu"

    def test_ties_go_to_the_lower_beam_then_the_lower_token(self):
        log_probs = np.log(np.full((1, 2, 3), 1 / 3, np.float32))
        scores, beams, tokens = select_candidates(np.zeros((1, 2), np.float32), log_probs, 4)
        assert beams.tolist() == [[0, 0, 0, 1]] and tokens.tolist() == [[0, 1, 2, 0]]

    @given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
    def test_random_against_a_loop(self, seed, n):
        generator = np.random.default_rng(seed)
        K, V = 6, 70                         # enough candidates that order is never luck
        beam_scores = generator.normal(size=(3, K)).astype(np.float32)
        log_probs = generator.normal(size=(3, K, V)).astype(np.float32)
        scores, beams, tokens = select_candidates(beam_scores, log_probs, n)
        for b in range(3):
            everything = sorted(((-(beam_scores[b, k] + log_probs[b, k, v]), k, v)
                                 for k in range(K) for v in range(V)))[:n]
            assert beams[b].tolist() == [k for _, k, _ in everything]
            assert tokens[b].tolist() == [v for _, _, v in everything]
            np.testing.assert_allclose(scores[b], [-s for s, _, _ in everything], rtol=1e-6)


CHI_SQUARE_3_DF_0999 = 16.266        # the chi-square limit of 3 degrees of freedom at 0.999
P = read_only(np.array([0.5, 0.1, 0.3, 0.1, 0.0]))
Q = read_only(np.array([0.1, 0.5, 0.1, 0.2, 0.1]))


def verified(p, q, n, seed):
    """(drafts, accepted, emitted) of n rounds: a draft drawn from q, then verify_token."""
    generator = np.random.default_rng(seed)
    drafts = generator.choice(len(q), size=n, p=q)
    results = [verify_token(p, q, int(token), generator) for token in drafts]
    return (drafts, np.array([bool(ok) for ok, _ in results]),
            np.array([int(token) for _, token in results]))


class TestVerifyToken:
    def test_emitted_tokens_are_distributed_as_p(self):
        _, _, emitted = verified(P, Q, 20000, seed=1)
        counts = np.bincount(emitted, minlength=5)
        assert counts[4] == 0, (f"token 4, which p gives probability 0, was emitted "
                                f"{counts[4]} times in 20000")
        expected = 20000 * P[:4]
        chi_square = ((counts[:4] - expected) ** 2 / expected).sum()
        assert chi_square < CHI_SQUARE_3_DF_0999, (
            f"chi-square {chi_square:.1f} over 3 degrees of freedom, above its 0.999 limit "
            f"{CHI_SQUARE_3_DF_0999:.1f}: the emitted tokens are not distributed as p "
            f"(counts {counts[:4].tolist()}, expected {expected.tolist()})")

    def test_acceptance_probability_is_min_one_p_over_q(self):
        drafts, accepted, emitted = verified(P, Q, 20000, seed=2)
        for token in (0, 2):
            assert accepted[drafts == token].all(), (
                f"a draft of token {token} (p >= q) was rejected "
                f"{(~accepted[drafts == token]).sum()} times: it must always be accepted")
        for token, ratio, tolerance in ((1, 0.2, 0.02), (3, 0.5, 0.03)):
            rate = accepted[drafts == token].mean()
            assert abs(rate - ratio) < tolerance, (
                f"a draft of token {token} (p/q = {ratio}) was accepted {rate:.3f} of the time, "
                f"not {ratio} ± {tolerance}: accept with probability min(1, p/q)")
        assert not accepted[drafts == 4].any(), (
            f"a draft of token 4 (p = 0) was accepted {accepted[drafts == 4].sum()} times")
        assert (emitted[accepted] == drafts[accepted]).all(), "an accepted draft must be kept"

    def test_a_rejection_draws_from_what_p_has_more_of_than_q(self):
        drafts, accepted, emitted = verified(P, Q, 20000, seed=3)
        replaced = emitted[~accepted]
        # max(0, p - q) = [0.4, 0, 0.2, 0, 0]: tokens 0 and 2 only, two to one
        assert set(replaced.tolist()) <= {0, 2}, (
            f"after a rejection tokens {sorted(set(replaced.tolist()) - {0, 2})} came, but "
            f"max(0, p - q) gives only tokens 0 and 2 a chance")
        share = (replaced == 0).mean()
        assert abs(share - 2 / 3) < 0.03, (
            f"after a rejection token 0 came {share:.3f} of the time, not 2/3 ± 0.03 "
            f"(max(0, p - q) = [0.4, 0, 0.2, 0, 0], normalised)")

    def test_one_hot_distributions_accept_only_the_argmax(self):
        generator = np.random.default_rng(0)
        p, q = np.eye(4)[2], np.eye(4)[1]
        assert verify_token(p, q, 1, generator) == (False, 2)
        assert verify_token(p, p.copy(), 2, generator) == (True, 2)

    def test_the_distributions_are_left_alone(self):
        verified(P, Q, 50, seed=4)                    # P and Q are read-only: no writes


WEIGHT = read_only(np.array([[0.5, -1.27, 0.0, 0.004],
                             [0.0, 0.0, 0.0, 0.0],
                             [-2.54, 1.0, 0.03, -0.01]], np.float32))


class TestQuantizeRows:
    def test_by_hand(self):
        q, scale = quantize_rows(WEIGHT)
        assert q.dtype == np.int8 and scale.dtype == np.float32 and q.shape == (3, 4)
        np.testing.assert_allclose(scale, [0.01, 0.0, 0.02], rtol=1e-6)
        assert q.tolist() == [[50, -127, 0, 0], [0, 0, 0, 0], [-127, 50, 2, 0]]

    @given(seed=st.integers(0, 10_000), spread=st.floats(1e-3, 1e3))
    def test_within_half_a_step_and_the_largest_exact(self, seed, spread):
        weight = (np.random.default_rng(seed).normal(size=(5, 7)) * spread).astype(np.float32)
        q, scale = quantize_rows(weight)
        error = np.abs(q.astype(np.float64) * scale[:, None] - weight)
        assert (error <= scale[:, None] * (0.5 + 1e-4)).all()
        assert (np.abs(q).max(axis=1) == 127).all() and (np.abs(q.astype(int)) <= 127).all()
        np.testing.assert_allclose(scale, np.abs(weight).max(axis=1) / 127, rtol=1e-6)

    def test_float64_weights_and_the_weight_left_alone(self):
        q, scale = quantize_rows(WEIGHT.astype(np.float64))
        assert q.dtype == np.int8 and scale.dtype == np.float32
        quantize_rows(WEIGHT)                             # read-only: no writes


class TestDequantizeRows:
    def test_by_hand(self):
        q = read_only(np.array([[50, -127], [3, 0], [-1, 127]], np.int8))
        scale = read_only(np.array([0.01, 2.0, 0.5], np.float32))
        restored = dequantize_rows(q, scale)
        assert restored.dtype == np.float32
        np.testing.assert_allclose(restored, [[0.5, -1.27], [6.0, 0.0], [-0.5, 63.5]],
                                   rtol=1e-6)

    def test_the_dtype_asked_for(self):
        q = read_only(np.array([[127, -127, 5]], np.int8))
        restored = dequantize_rows(q, read_only(np.array([0.1], np.float32)), np.float64)
        assert restored.dtype == np.float64
        np.testing.assert_allclose(restored, [[12.7, -12.7, 0.5]], rtol=1e-6)

    def test_codes_do_not_overflow(self):
        q = read_only(np.array([[127, 127], [-127, -128]], np.int8))
        restored = dequantize_rows(q, read_only(np.array([3.0, 2.0], np.float32)))
        np.testing.assert_allclose(restored, [[381.0, 381.0], [-254.0, -256.0]])

    def test_a_round_trip_of_a_square_matrix(self):
        weight = np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32)
        q, scale = quantize_rows(weight)
        restored = dequantize_rows(q, scale)
        assert (np.abs(restored - weight) <= scale[:, None] * (0.5 + 1e-4)).all()
