"""A count-based bigram model: the table of examples/01_next_token.py.

    counts[a, b] = how often token b follows token a        (V, V) int64
    probs[a, b]  = counts[a, b] / sum over b' of counts[a, b']

It predicts the next token from the last one alone. A GPT answers the same question, with a
network that reads the whole context instead of a table indexed by the last token.
"""
import numpy as np

from tinytorch.functional.checks import check_ids


def bigram_counts(ids, vocab_size):
    """counts (V, V) int64 for a 1-D sequence of token ids in [0, vocab_size):
    counts[a, b] = how often b directly follows a in `ids`."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"bigram_counts wants a 1-D sequence of integer ids, got "
                         f"{ids.dtype} of shape {ids.shape}")
    ids = ids.astype(np.int64)                 # also an empty list, which NumPy makes float
    check_ids(ids, vocab_size)                 # names the first id outside the vocabulary
    counts = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    add_bigram_counts(counts, ids)
    return counts


def add_bigram_counts(counts, ids):
    """Add 1 to counts[a, b] (V, V), in place, for every adjacent pair (a, b) of `ids`, a 1-D
    int array: ids[i] followed by ids[i + 1], for each i. A pair that occurs n times adds n.
    Counting text by text into one table counts no pair across the texts' boundaries."""
    # BEGIN EXERCISE bigram_counts: counts[ids[i], ids[i + 1]] += 1 for every i; repeats add up
    # np.add.at adds once per pair, also for repeated pairs (counts[a, b] += 1 with index
    # arrays would count each distinct pair once).
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    # END EXERCISE bigram_counts
