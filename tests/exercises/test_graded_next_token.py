"""Graded tests of the next-token chapter (01_next_token.py): counting bigrams."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpt.bigram import add_bigram_counts, bigram_counts


def counts_by_loop(ids, vocab_size):
    counts = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    for a, b in zip(ids[:-1], ids[1:]):
        counts[a, b] += 1
    return counts


class TestBigramCounts:
    def test_by_hand(self):
        counts = np.zeros((3, 3), dtype=np.int64)
        add_bigram_counts(counts, np.array([0, 1, 1, 1, 2, 0, 1]))
        # pairs: 0->1 twice, 1->1 twice, 1->2 once, 2->0 once; row a is "after a"
        np.testing.assert_array_equal(counts, [[0, 2, 0], [0, 2, 1], [1, 0, 0]])

    def test_a_repeated_pair_counts_every_time(self):
        counts = np.zeros((4, 4), dtype=np.int64)
        add_bigram_counts(counts, np.array([2, 2, 2, 2, 2]))
        assert counts[2, 2] == 4 and counts.sum() == 4

    def test_adds_into_the_counts_it_is_given(self):
        counts = np.ones((3, 3), dtype=np.int64)
        add_bigram_counts(counts, np.array([0, 2, 0]))
        expected = np.ones((3, 3), dtype=np.int64)
        expected[0, 2] += 1
        expected[2, 0] += 1
        np.testing.assert_array_equal(counts, expected)

    def test_texts_counted_one_by_one_share_no_pair(self):
        counts = np.zeros((3, 3), dtype=np.int64)
        add_bigram_counts(counts, np.array([0, 1]))
        add_bigram_counts(counts, np.array([2, 2]))
        assert counts[1, 2] == 0 and counts.sum() == 2

    @pytest.mark.parametrize("ids", [[], [1]])
    def test_fewer_than_two_ids_have_no_pair(self, ids):
        counts = np.zeros((3, 3), dtype=np.int64)
        add_bigram_counts(counts, np.array(ids, dtype=np.int64))
        assert not counts.any()

    @given(ids=st.lists(st.integers(0, 6), max_size=60))
    def test_any_sequence(self, ids):
        counts = np.zeros((7, 7), dtype=np.int64)
        ids = np.array(ids, dtype=np.int64)
        add_bigram_counts(counts, ids)
        np.testing.assert_array_equal(counts, counts_by_loop(ids, 7))

    def test_the_table_of_a_text(self):
        ids = np.random.default_rng(0).integers(0, 5, size=500)
        counts = bigram_counts(ids, 5)
        assert counts.dtype == np.int64 and counts.shape == (5, 5)
        np.testing.assert_array_equal(counts, counts_by_loop(ids, 5))
        np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(ids[:-1], minlength=5))


def test_bigram_counts_checks_its_ids():
    """The wrapper's own checks (not graded: they are outside the exercise)."""
    assert not bigram_counts([], 3).any()
    with pytest.raises(IndexError, match="token id 3 is outside the vocabulary of size 3"):
        bigram_counts([0, 3], 3)
    with pytest.raises(ValueError, match="1-D sequence of integer ids, got float64"):
        bigram_counts([0.0, 1.0], 3)
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        bigram_counts([[0, 1]], 3)
