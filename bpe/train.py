"""Training byte-level BPE, fast.

The algorithm is the textbook one (see `bpe.naive`): start from the 256 byte values, find the
most frequent adjacent pair of tokens, give it a new id, replace it everywhere, repeat. What
makes this version fast is bookkeeping, not a different answer:

- each distinct chunk is stored once, with the number of times it occurs ("the" appears
  thousands of times in English but is rewritten once per merge, not thousands of times);
- `pair_counts` holds the count of every adjacent pair, updated by the difference a merge
  makes instead of being recounted;
- `where` maps each pair to the chunks that hold it, so a merge rewrites only those chunks;
- a max-heap finds the most frequent pair. Counts change all the time and a heap cannot
  update an entry in place, so it keeps stale entries: when an entry comes out whose count no
  longer matches `pair_counts`, it is skipped (or filed again with its current count).

Counting and tie-break (the naive trainer uses the very same rules, and tests check that both
produce identical merges):
- a pair's count is the number of positions where it occurs, overlapping ones included: "aaaa"
  holds the pair (a, a) three times;
- a merge replaces occurrences left to right without overlap: "aaaa" becomes "aa aa";
- among pairs with the same count, the smallest pair of ids wins: (32, 116) before (101, 32).
  That is the minimum of (-count, left id, right id), which is exactly what the heap orders by.
"""
import heapq
import time
import warnings
from collections import Counter, defaultdict

import regex

from bpe.patterns import GPT4_PATTERN, split_into_chunks
from bpe.readable import render_token
from bpe.tokenizer import from_merges, without_surrogates


def train(text, vocab_size, pattern=GPT4_PATTERN, special_tokens=None, verbose=False):
    """Train a tokenizer with `vocab_size` tokens on `text` (a str).

    pattern:        the regex that pre-splits the text (merges never cross chunk boundaries);
                    None means no pre-splitting.
    special_tokens: a list of strings such as ["<|endoftext|>"]. They are cut out of the text
                    before training (so they never take part in a merge) and get the last ids.
    verbose:        print progress (merges done, the latest merge, merges per second).

    The vocabulary is 256 byte tokens + the merges + the special tokens. If no pair of tokens
    occurs twice before that size is reached, training stops there with a warning.
    """
    text, special_tokens = check_training_args(text, vocab_size, special_tokens)
    chunks = training_chunks(text, pattern, special_tokens)
    n_merges = vocab_size - 256 - len(special_tokens)
    merges = find_merges(chunks, n_merges, verbose)
    if len(merges) < n_merges:
        warnings.warn(stopped_early_message(len(merges), vocab_size, special_tokens), stacklevel=2)
    return build_tokenizer(merges, pattern, special_tokens)


def find_merges(chunks, n_merges, verbose=False):
    """The first `n_merges` merges (pairs of ids) for `chunks` (a list of str), in order;
    fewer if no pair occurs at least twice any more."""
    chunk_counts = Counter(chunks)
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    word_counts = list(chunk_counts.values())
    pair_counts, where = count_all_pairs(words, word_counts)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    progress = Progress(n_merges) if verbose else None

    merges = []
    while len(merges) < n_merges:
        pair, count = pop_most_frequent(heap, pair_counts)
        if count < 2:
            break
        new_id = 256 + len(merges)
        merges.append(pair)
        apply_merge(pair, new_id, words, word_counts, pair_counts, where, heap)
        if progress:
            progress.report(merges, count)
    return merges


def count_all_pairs(words, word_counts):
    """Return pair -> count (each word weighted by how often it occurs), and the index
    pair -> set of word numbers that hold it."""
    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for word_index, (word, word_count) in enumerate(zip(words, word_counts)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += word_count
            where[pair].add(word_index)
    return pair_counts, where


def pop_most_frequent(heap, pair_counts):
    """Pop heap entries until one is up to date; return (pair, count), or (None, 0)."""
    while heap:
        negative_count, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count == -negative_count:
            return pair, count
        if 0 < count < -negative_count:
            # the count has dropped since this entry was filed: file it again, correctly
            heapq.heappush(heap, (-count, pair))
        # otherwise the pair is gone, or a newer entry with its higher count exists
    return None, 0


def apply_merge(pair, new_id, words, word_counts, pair_counts, where, heap):
    """Replace `pair` by `new_id` in every word that holds it and update the counts, the
    index and the heap by the difference."""
    changes = defaultdict(int)
    for word_index in where.pop(pair):
        new_word, lost, gained = merge_in_word(words[word_index], pair, new_id)
        words[word_index] = new_word
        word_count = word_counts[word_index]
        for lost_pair in lost:
            changes[lost_pair] -= word_count
        for gained_pair in gained:
            changes[gained_pair] += word_count
            where[gained_pair].add(word_index)
    for changed_pair, change in changes.items():
        count = pair_counts.get(changed_pair, 0) + change
        if count > 0:
            pair_counts[changed_pair] = count
        else:
            pair_counts.pop(changed_pair, None)
        if change > 0:  # a count that went up needs a fresh heap entry; lower ones are lazy
            heapq.heappush(heap, (-count, changed_pair))


def merge_in_word(word, pair, new_id):
    """Replace `pair` in `word` (a list of ids) left to right; return the new word and the
    pairs lost and gained, one entry per occurrence.

    Each occurrence of (a, b) between neighbours p and n turns p a b n into p new n: it loses
    (p, a), (a, b), (b, n) and gains (p, new), (new, n). Taking p from the already rewritten
    output makes overlapping runs come out right: in "aaaa" the second occurrence sees p = new.
    """
    first, second = pair
    merged, lost, gained = [], [], []
    length = len(word)
    index = 0
    while index < length:
        if word[index] == first and index + 1 < length and word[index + 1] == second:
            lost.append(pair)
            if merged:
                lost.append((merged[-1], first))
                gained.append((merged[-1], new_id))
            if index + 2 < length:
                lost.append((second, word[index + 2]))
                gained.append((new_id, word[index + 2]))
            merged.append(new_id)
            index += 2
        else:
            merged.append(word[index])
            index += 1
    return merged, lost, gained


# ---- shared with the naive trainer ----

def check_training_args(text, vocab_size, special_tokens):
    """Raise a clear error for unusable arguments; return the text as encoding will see it
    (`without_surrogates`) and the special tokens as a list."""
    text = without_surrogates(text)
    if not text:
        raise ValueError("cannot train on an empty text")
    if isinstance(special_tokens, str):
        raise TypeError(f"special_tokens must be a list of strings, e.g. [{special_tokens!r}]")
    special_tokens = list(special_tokens or [])
    for token in special_tokens:
        if not isinstance(token, str) or not token:
            raise ValueError(f"a special token must be a non-empty string, not {token!r}")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError(f"special tokens must be distinct: {special_tokens}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, not {type(vocab_size).__name__}")
    smallest = 256 + len(special_tokens)
    if vocab_size < smallest:
        raise ValueError(f"vocab_size {vocab_size} is too small: it must be at least 256 (one "
                         f"token per byte) + {len(special_tokens)} special tokens = {smallest}")
    return text, special_tokens


def training_chunks(text, pattern, special_tokens):
    """The chunks to train on: special tokens cut out, the rest split by `pattern`."""
    if special_tokens:
        alternatives = "|".join(regex.escape(token) for token in special_tokens)
        pieces = regex.split(alternatives, text)
    else:
        pieces = [text]
    chunks = []
    for piece in pieces:
        chunks.extend(split_into_chunks(piece, pattern))
    if not chunks:
        raise ValueError("cannot train on a text that holds nothing but special tokens")
    return chunks


def build_tokenizer(merges, pattern, special_tokens):
    """The trained tokenizer: special tokens take the ids right after the last merge."""
    first_special_id = 256 + len(merges)
    special_ids = {token: first_special_id + i for i, token in enumerate(special_tokens)}
    return from_merges(merges, pattern, special_ids)


def stopped_early_message(n_merges, vocab_size, special_tokens):
    reached = 256 + n_merges + len(special_tokens)
    return (f"training stopped after {n_merges} merges, at vocabulary size {reached} instead "
            f"of {vocab_size}: no pair of tokens occurs more than once in the text")


class Progress:
    """Prints a line about every 5% of the merges: how many, the latest, and the rate."""

    def __init__(self, n_merges):
        self.n_merges = n_merges
        self.every = max(1, n_merges // 20)
        self.start = time.perf_counter()
        self.token_bytes = [bytes([b]) for b in range(256)]

    def report(self, merges, count):
        left, right = merges[-1]
        self.token_bytes.append(self.token_bytes[left] + self.token_bytes[right])
        done = len(merges)
        if done % self.every == 0 or done == self.n_merges:
            elapsed = time.perf_counter() - self.start
            print(f"merge {done}/{self.n_merges}: {render_token(self.token_bytes[left])} + "
                  f"{render_token(self.token_bytes[right])} (seen {count} times), "
                  f"{done / max(elapsed, 1e-9):.0f} merges/s", flush=True)
