"""Graded tests of the tokenization chapter (04_bpe.py): counting pairs, merging a pair, and
encoding a chunk by rank as tiktoken does."""
import base64
import functools
import json

import numpy as np
import regex
from hypothesis import given
from hypothesis import strategies as st

from bpe.bytepair import merge_by_rank, merge_by_rank_heap
from bpe.naive import count_pairs, merge_pair


def pair_counts_by_loop(ids):
    counts = {}
    for i in range(len(ids) - 1):
        counts[ids[i], ids[i + 1]] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


class TestCountPairs:
    def test_by_hand(self):
        assert count_pairs([97, 97, 97, 98]) == {(97, 97): 2, (97, 98): 1}
        assert count_pairs([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}

    def test_overlapping_occurrences_all_count(self):
        assert count_pairs([5, 5, 5, 5, 5]) == {(5, 5): 4}

    def test_adds_into_the_dict_it_is_given_and_returns_it(self):
        counts = {(1, 2): 10, (7, 7): 1}
        assert count_pairs([1, 2, 1, 2], counts) is counts
        assert counts == {(1, 2): 12, (2, 1): 1, (7, 7): 1}

    def test_an_empty_dict_given_is_filled(self):
        counts = {}
        count_pairs([3, 4], counts)
        assert counts == {(3, 4): 1}

    def test_a_new_dict_each_call_without_one(self):
        assert count_pairs([1, 2]) == {(1, 2): 1}
        assert count_pairs([3, 4]) == {(3, 4): 1}

    def test_short_lists_have_no_pairs(self):
        assert count_pairs([]) == {} and count_pairs([42]) == {}

    @given(ids=st.lists(st.integers(0, 4), max_size=30))
    def test_any_list(self, ids):
        before = list(ids)
        assert count_pairs(ids) == pair_counts_by_loop(ids)
        assert ids == before


class TestMergePair:
    def test_by_hand(self):
        assert merge_pair([97, 97, 97, 97], (97, 97), 256) == [256, 256]
        assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]

    def test_left_to_right_without_overlap(self):
        assert merge_pair([7, 7, 7], (7, 7), 300) == [300, 7]
        assert merge_pair([7, 7, 7, 7, 7], (7, 7), 300) == [300, 300, 7]
        assert merge_pair([1, 1, 1, 2], (1, 1), 5) == [5, 1, 2]

    def test_only_the_whole_pair_matches(self):
        assert merge_pair([1, 3, 2, 1], (1, 2), 9) == [1, 3, 2, 1]
        assert merge_pair([2, 1, 1, 2], (1, 2), 9) == [2, 1, 9]

    def test_a_match_at_either_end_and_no_match(self):
        assert merge_pair([4, 5, 6], (5, 6), 8) == [4, 8]
        assert merge_pair([5, 6, 4], (5, 6), 8) == [8, 4]
        assert merge_pair([4, 4], (5, 6), 8) == [4, 4]
        assert merge_pair([], (5, 6), 8) == [] and merge_pair([5], (5, 6), 8) == [5]

    def test_a_new_list_and_the_input_left_alone(self):
        ids = [1, 2, 1, 2]
        merged = merge_pair(ids, (1, 2), 3)
        assert merged == [3, 3] and ids == [1, 2, 1, 2] and merged is not ids
        unchanged = [4, 5]
        assert merge_pair(unchanged, (1, 2), 3) is not unchanged

    @given(ids=st.lists(st.integers(0, 2), max_size=30), pair=st.tuples(st.integers(0, 2),
                                                                         st.integers(0, 2)))
    def test_any_list(self, ids, pair):
        expected, i = [], 0
        while i < len(ids):
            if tuple(ids[i:i + 2]) == pair:
                expected.append(99)
                i += 2
            else:
                expected.append(ids[i])
                i += 1
        assert merge_pair(list(ids), pair, 99) == expected


def ranks_of(vocabulary):
    return {token: rank for rank, token in enumerate(vocabulary)}


@functools.lru_cache(maxsize=1)
def cl100k_ranks(path):
    """{token bytes: rank} of a tiktoken file (base64 token, space, rank on each line)."""
    ranks = {}
    with open(path, "rb") as file:
        for line in file:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class TestEncodeByRank:
    def test_by_hand(self):
        assert merge_by_rank(b"abc", {b"ab": 256, b"bc": 257, b"abc": 258}) == [b"abc"]

    def test_the_lowest_rank_merges_first(self):
        # bc has the lower rank, so "abc" becomes a + bc, and then nothing more merges
        assert merge_by_rank(b"abc", {b"bc": 1, b"ab": 2}) == [b"a", b"bc"]
        assert merge_by_rank(b"abc", {b"bc": 2, b"ab": 1}) == [b"ab", b"c"]
        assert merge_by_rank(b"abcd", {b"cd": 1, b"ab": 2, b"bc": 0}) == [b"a", b"bc", b"d"]

    def test_rank_not_frequency(self):
        # "ab" occurs twice, but "ba" has the lower rank
        assert merge_by_rank(b"abab", {b"ab": 5, b"ba": 1}) == [b"a", b"ba", b"b"]

    def test_ties_go_to_the_leftmost_pair(self):
        assert merge_by_rank(b"aaa", {b"aa": 0}) == [b"aa", b"a"]
        assert merge_by_rank(b"aaaaa", {b"aa": 0, b"aaaa": 1}) == [b"aaaa", b"a"]

    def test_merges_continue_until_no_pair_is_a_token(self):
        ranks = {b"ab": 0, b"cd": 1, b"abcd": 2, b"abcde": 3, b"ef": 4}
        assert merge_by_rank(b"abcdef", ranks) == [b"abcde", b"f"]
        assert merge_by_rank(b"xyz", ranks) == [b"x", b"y", b"z"]

    def test_short_pieces(self):
        assert merge_by_rank(b"", {b"ab": 0}) == []
        assert merge_by_rank(b"a", {b"ab": 0}) == [b"a"]
        assert merge_by_rank(b"ab", {b"ab": 0}) == [b"ab"]

    @given(piece=st.binary(max_size=24) | st.text(alphabet="ab", max_size=24).map(str.encode),
           vocabulary=st.lists(st.text(alphabet="abc", min_size=2, max_size=5).map(str.encode),
                               unique=True, max_size=12))
    def test_same_parts_as_the_heap_version(self, piece, vocabulary):
        ranks = ranks_of(vocabulary)
        parts = merge_by_rank(piece, ranks)
        assert parts == merge_by_rank_heap(piece, ranks)
        assert b"".join(parts) == piece

    def test_exactly_tiktoken_on_cl100k(self, shared_data):
        ranks = cl100k_ranks(shared_data / "cl100k_base.tiktoken")
        cases = json.loads((shared_data / "cl100k_cases.json").read_text(encoding="utf-8"))
        pattern = regex.compile(cases["pattern"])
        for case in cases["cases"]:
            ids = [ranks[part] for chunk in pattern.findall(case["text"])
                   for part in merge_by_rank(chunk.encode("utf-8"), ranks)]
            assert ids == case["ids"], case["text"]

    def test_the_ranks_are_only_read(self):
        ranks = {b"ab": 0, b"abc": 1}
        assert merge_by_rank(b"abcab", ranks) == [b"abc", b"ab"]
        assert ranks == {b"ab": 0, b"abc": 1}


def test_cl100k_ranks_are_read_as_tiktoken_numbers_them(shared_data):
    """The helper above reads the rank file as tiktoken does (not graded)."""
    ranks = cl100k_ranks(shared_data / "cl100k_base.tiktoken")
    assert ranks[b"!"] == 0 and len(ranks) == 100_256
    assert np.array_equal(sorted(ranks.values()), np.arange(100_256))
