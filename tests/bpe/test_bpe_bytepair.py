"""Merging one chunk's bytes by rank: the textbook loop and the heap version agree."""
from hypothesis import given
from hypothesis import strategies as st

from bpe.bytepair import LONG_CHUNK_BYTES, merge_by_rank, merge_by_rank_heap, split_by_rank

RUN_RANKS = {b"aa": 0, b"aaaa": 1, b"aaa": 2}


def test_lowest_rank_merges_first():
    ranks = {b"ab": 1, b"bc": 0, b"abc": 2}
    # (b, c) has the lower rank, so "a" + "bc"; then "abc" exists: one part.
    assert merge_by_rank(b"abc", ranks) == [b"abc"]
    assert merge_by_rank(b"abc", {b"ab": 1, b"bc": 0}) == [b"a", b"bc"]


def test_ties_go_to_the_leftmost_pair():
    # "aaa": both pairs are "aa" with rank 0; the leftmost merges, leaving "aa" + "a".
    assert merge_by_rank(b"aaa", {b"aa": 0}) == [b"aa", b"a"]
    assert merge_by_rank_heap(b"aaa", {b"aa": 0}) == [b"aa", b"a"]


def test_runs():
    assert merge_by_rank(b"a" * 9, RUN_RANKS) == [b"aaaa", b"aaaa", b"a"]
    assert merge_by_rank_heap(b"a" * 9, RUN_RANKS) == [b"aaaa", b"aaaa", b"a"]


def test_no_ranks_gives_single_bytes():
    assert merge_by_rank(b"xyz", {}) == [b"x", b"y", b"z"]
    assert merge_by_rank_heap(b"xyz", {}) == [b"x", b"y", b"z"]
    assert merge_by_rank(b"", {}) == [] == merge_by_rank_heap(b"", {})


def test_long_pieces_go_to_the_heap_and_still_come_out_right():
    piece = b"a" * 100_000
    parts = split_by_rank(piece, RUN_RANKS)
    assert len(piece) > LONG_CHUNK_BYTES
    assert parts == [b"aaaa"] * 25_000


pieces = st.binary(max_size=40) | st.text(alphabet="ab", max_size=40).map(str.encode)
tokens = st.text(alphabet="abc", min_size=2, max_size=5).map(str.encode)


@given(piece=pieces, vocabulary=st.lists(tokens, unique=True, max_size=12))
def test_heap_and_loop_agree(piece, vocabulary):
    ranks = {token: rank for rank, token in enumerate(vocabulary)}
    parts = merge_by_rank(piece, ranks)
    assert merge_by_rank_heap(piece, ranks) == parts
    assert split_by_rank(piece, ranks) == parts
    assert b"".join(parts) == piece
