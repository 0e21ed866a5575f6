"""Encoding one chunk: merge its bytes by rank, the way tiktoken does.

A tokenizer holds `ranks`, a dict from a token's bytes to its rank (its merge priority: lower
merges first). Encoding a chunk starts from single bytes and repeatedly merges the adjacent
pair whose concatenation has the lowest rank, the leftmost one on a tie, until no adjacent pair
is in `ranks`. Looking pairs up by their *bytes* (not by a pair of ids) is what lets the same
code serve tokenizers trained here, tiktoken's rank files and GPT-2's merge lists.

Two versions give the same parts:
- `merge_by_rank` is tiktoken's loop: find the lowest-ranked pair, merge it, repeat. It is
  quadratic in the chunk's length, and the fastest choice for the short chunks that
  pre-splitting produces.
- `merge_by_rank_heap` keeps candidate pairs in a heap and the parts in a linked list, so a
  100,000-byte chunk ("a" * 100_000) costs n log n instead of n squared.

Hugging Face's files (tokenizer.json, GPT-2's merges.txt) rank something else: the merges they
list, each a pair of tokens. Two adjacent parts merge only if their pair is listed, even when
their bytes together make a token by another route. With the merges ab, bc, a+bc (in that
order), tiktoken's rule turns "abc" into ab, c and then abc (the bytes "abc" are ranked), while
Hugging Face's stops at ab, c (the pair ab+c is not listed). The two rules agree on merges that
BPE training made, because training only ever merges pairs that are next to each other; they
differ on lists made some other way. `by_pair=True` selects Hugging Face's rule: `ranks` is
then keyed by (left bytes, right bytes).
"""
import heapq
import sys

# The "rank" of a pair that is not a token: larger than any real rank, so never the minimum.
NO_MERGE = sys.maxsize

# Chunks up to this many bytes use the simple loop; longer ones use the heap. Measured: the
# two cost the same at about this length.
LONG_CHUNK_BYTES = 12


def split_by_rank(piece, ranks, by_pair=False):
    """The parts (byte strings) that `piece` (bytes) merges into under `ranks`, which is keyed
    by a part's bytes (tiktoken's rule) or, with `by_pair`, by a pair of parts (Hugging
    Face's)."""
    if len(piece) <= LONG_CHUNK_BYTES and not by_pair:
        return merge_by_rank(piece, ranks)
    return merge_by_rank_heap(piece, ranks, by_pair)


def merge_by_rank(piece, ranks):
    """Merge the bytes of `piece` by rank, tiktoken's loop; return the parts (a list of bytes
    objects that join to `piece`).

    Start from single bytes. Each round, look up the rank of every adjacent pair of parts, that
    is of their concatenation in `ranks` (a pair that is not a key cannot merge), merge the
    pair with the lowest rank (the leftmost on a tie) into one part, and repeat until no
    adjacent pair is in `ranks`. Only the two pairs around a merge change, so a fast loop keeps
    the ranks of the pairs in a list and recomputes just those two.

    >>> merge_by_rank(b"abc", {b"ab": 256, b"bc": 257, b"abc": 258})
    [b'abc']
    """
    # BEGIN EXERCISE bpe_encode_by_rank: merge the lowest-ranked adjacent pair until none
    parts = [piece[i:i + 1] for i in range(len(piece))]
    pair_ranks = [ranks.get(piece[i:i + 2], NO_MERGE) for i in range(len(piece) - 1)]
    while pair_ranks:
        best_rank = min(pair_ranks)
        if best_rank == NO_MERGE:
            break
        index = pair_ranks.index(best_rank)  # the first (leftmost) pair with that rank
        parts[index:index + 2] = [parts[index] + parts[index + 1]]
        del pair_ranks[index]
        if index > 0:
            pair_ranks[index - 1] = ranks.get(parts[index - 1] + parts[index], NO_MERGE)
        if index < len(pair_ranks):
            pair_ranks[index] = ranks.get(parts[index] + parts[index + 1], NO_MERGE)
    return parts
    # END EXERCISE bpe_encode_by_rank


def merge_by_rank_heap(piece, ranks, by_pair=False):
    """Same result as `merge_by_rank`, in O(n log n) for a piece of n bytes; with `by_pair`,
    `ranks` is keyed by (left bytes, right bytes), Hugging Face's rule (see the top of the file).

    A part is named by the offset where it starts; `part_end[start]` is where it ends (the
    start of the next part) and `part_prev[start]` is the start of the part before it. The heap
    holds candidate merges as (rank, left start, right start, right end); ordering by rank then
    by left start picks the lowest rank and, on a tie, the leftmost pair, exactly like the loop.
    A merge makes its neighbours' entries stale; instead of deleting them from the heap we check
    each entry when it comes out (are both parts still exactly those?) and skip stale ones.
    """
    n = len(piece)
    part_end = list(range(1, n + 1))
    part_prev = list(range(-1, n - 1))
    is_start = [True] * n
    heap = []
    for start in range(n - 1):
        rank = ranks.get((piece[start:start + 1], piece[start + 1:start + 2]) if by_pair
                         else piece[start:start + 2])
        if rank is not None:
            heap.append((rank, start, start + 1, start + 2))
    heapq.heapify(heap)

    while heap:
        _, left, right, right_end = heapq.heappop(heap)
        if not is_start[left] or part_end[left] != right or part_end[right] != right_end:
            continue  # stale: one of the two parts has been merged into something else
        # merge the right part into the left one
        part_end[left] = right_end
        is_start[right] = False
        if right_end < n:
            part_prev[right_end] = left
        # the merged part forms new pairs with its neighbours
        before = part_prev[left]
        if before >= 0:
            rank = ranks.get((piece[before:left], piece[left:right_end]) if by_pair
                             else piece[before:right_end])
            if rank is not None:
                heapq.heappush(heap, (rank, before, left, right_end))
        if right_end < n:
            after_end = part_end[right_end]
            rank = ranks.get((piece[left:right_end], piece[right_end:after_end]) if by_pair
                             else piece[left:after_end])
            if rank is not None:
                heapq.heappush(heap, (rank, left, right_end, after_end))

    parts = []
    start = 0
    while start < n:
        parts.append(piece[start:part_end[start]])
        start = part_end[start]
    return parts
