"""The textbook pieces: counting pairs, merging a pair, choosing the most frequent pair."""
from bpe.naive import count_pairs, merge_pair, most_frequent_pair


def test_count_pairs_counts_overlapping_occurrences():
    assert count_pairs([97, 97, 97, 97]) == {(97, 97): 3}
    assert count_pairs([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}


def test_count_pairs_adds_into_an_existing_dict():
    counts = count_pairs([1, 2])
    assert count_pairs([1, 2, 1], counts) is counts
    assert counts == {(1, 2): 2, (2, 1): 1}


def test_count_pairs_of_short_lists_is_empty():
    assert count_pairs([]) == {}
    assert count_pairs([5]) == {}


def test_merge_pair_goes_left_to_right_without_overlap():
    assert merge_pair([97, 97, 97], (97, 97), 256) == [256, 97]
    assert merge_pair([97, 97, 97, 97], (97, 97), 256) == [256, 256]
    assert merge_pair([97, 97, 97, 97, 97], (97, 97), 256) == [256, 256, 97]


def test_merge_pair_leaves_other_ids_and_the_input_alone():
    ids = [1, 2, 3, 1, 2, 2]
    assert merge_pair(ids, (1, 2), 9) == [9, 3, 9, 2]
    assert ids == [1, 2, 3, 1, 2, 2]
    assert merge_pair(ids, (2, 1), 9) == [1, 2, 3, 1, 2, 2]  # (2, 1) does not occur
    assert merge_pair([], (1, 2), 9) == []


def test_most_frequent_pair_breaks_ties_by_the_smallest_ids():
    assert most_frequent_pair({(5, 1): 3, (1, 5): 3, (0, 9): 2}) == (1, 5)
    assert most_frequent_pair({(5, 1): 4, (1, 5): 3}) == (5, 1)
