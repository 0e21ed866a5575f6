"""Training byte-level BPE, the textbook way: recount every pair after every merge.

This is the algorithm as books and minbpe present it, kept short so it can be read in a minute
and stepped through in a debugger. It is slow (each merge walks the whole text twice), which
is why `bpe.train` exists; tests check that both produce identical merges. Same rules as
`bpe.train`: overlapping pairs are all counted, merges go left to right, and ties between
equal counts go to the smallest pair of ids.
"""
import warnings

from bpe.patterns import GPT4_PATTERN
from bpe.train import (Progress, build_tokenizer, check_training_args, stopped_early_message,
                       training_chunks)


def count_pairs(ids, counts=None):
    """Add to `counts` (a dict pair -> count, new if None) each adjacent pair in `ids`, and
    return it; overlapping pairs all count, and `ids` is left as it is.

    >>> count_pairs([97, 97, 97, 98])
    {(97, 97): 2, (97, 98): 1}
    """
    # BEGIN EXERCISE bpe_count_pairs: count each adjacent pair, zip(ids, ids[1:])
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    # END EXERCISE bpe_count_pairs


def merge_pair(ids, pair, new_id):
    """A new list: `ids` with each occurrence of `pair` replaced by `new_id`, left to right.

    >>> merge_pair([97, 97, 97, 97], (97, 97), 256)
    [256, 256]
    """
    # BEGIN EXERCISE bpe_merge_pair: left to right: a match becomes new_id, skip two
    merged = []
    index = 0
    while index < len(ids):
        if index + 1 < len(ids) and ids[index] == pair[0] and ids[index + 1] == pair[1]:
            merged.append(new_id)
            index += 2
        else:
            merged.append(ids[index])
            index += 1
    return merged
    # END EXERCISE bpe_merge_pair


def most_frequent_pair(counts):
    """The pair with the highest count; on a tie, the smallest pair of ids."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


def train_naive(text, vocab_size, pattern=GPT4_PATTERN, special_tokens=None, verbose=False):
    """Same arguments and result as `bpe.train`, computed the slow, obvious way."""
    text, special_tokens = check_training_args(text, vocab_size, special_tokens)
    chunks = [list(chunk.encode("utf-8"))
              for chunk in training_chunks(text, pattern, special_tokens)]
    n_merges = vocab_size - 256 - len(special_tokens)
    progress = Progress(n_merges) if verbose else None

    merges = []
    while len(merges) < n_merges:
        counts = {}
        for ids in chunks:
            count_pairs(ids, counts)
        if not counts or max(counts.values()) < 2:
            warnings.warn(stopped_early_message(len(merges), vocab_size, special_tokens),
                          stacklevel=2)
            break
        pair = most_frequent_pair(counts)
        new_id = 256 + len(merges)
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
        merges.append(pair)
        if progress:
            progress.report(merges, counts[pair])
    return build_tokenizer(merges, pattern, special_tokens)
