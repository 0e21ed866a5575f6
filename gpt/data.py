"""From a text file to batches of (inputs, targets).

    text  ->  token ids (one compact array)  ->  train / validation split (90 / 10)
          ->  random windows of block_size + 1 tokens
          ->  inputs = window[:-1], targets = window[1:]    (the next token at each position)

Fine-tuning has examples rather than one long text: `batches` cuts a list of them into
batches, each example once an epoch, in a shuffled order, and `pad_batch` right-pads a batch
of token id lists of different lengths into one array.
"""
import warnings

import numpy as np

import bpe

from .tokenizers import END_OF_TEXT, CharTokenizer, end_of_text_id


def read_text(path):
    """The UTF-8 text of a file; an error naming the byte offset of the first invalid byte,
    or saying that the file is empty."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ValueError(f"{path} is empty: there is no text to train on")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not valid UTF-8: byte 0x{raw[error.start]:02x} at offset "
                         f"{error.start}") from None


def default_corpus():
    """Python's own help topics (the `pydoc_data.topics` module, about 460 kB of English),
    so that training works with no download."""
    from pydoc_data.topics import topics
    return "\n\n".join(topics[name].strip() for name in sorted(topics)) + "\n"


def make_tokenizer(text, char_level=False, vocab_size=512, log=print):
    """A tokenizer trained on `text`: one token per character, or byte-level BPE (GPT-2's
    split pattern, so it can be saved as GPT-2 files) with <|endoftext|> as the last id.

    BPE never merges across or into a literal <|endoftext|> in `text` (see `encode_corpus`).
    A text too small for `vocab_size` gives a smaller vocabulary, and `log` gets a note that
    says how many merges training found."""
    if char_level:
        return CharTokenizer.from_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = bpe.train(text, vocab_size, pattern=bpe.GPT2_PATTERN,
                              special_tokens=[END_OF_TEXT])
    for warning in caught:
        log(f"note: {warning.message}")
    return tokenizer


def encode_corpus(tokenizer, text):
    """All of `text` as token ids, uint16 when the vocabulary fits (half of int32's memory).

    A literal <|endoftext|> in the text is the end-of-text token when the tokenizer has one:
    a document separator, as in GPT-2's training data. Everything else is ordinary text,
    including other special tokens' strings."""
    dtype = np.uint16 if tokenizer.vocab_size <= 2 ** 16 else np.uint32
    end_of_text = end_of_text_id(tokenizer)
    if end_of_text is None:
        return np.array(tokenizer.encode_ordinary(text), dtype=dtype)
    ids = []
    for index, document in enumerate(text.split(END_OF_TEXT)):
        if index > 0:
            ids.append(end_of_text)
        ids.extend(tokenizer.encode_ordinary(document))
    return np.array(ids, dtype=dtype)


def split_ids(ids, train_fraction=0.9):
    """Contiguous split: the first 90% for training, the rest for validation (as nanoGPT)."""
    cut = int(len(ids) * train_fraction)
    return ids[:cut], ids[cut:]


def get_batch(ids, block_size, batch_size, generator):
    """`batch_size` random windows of `ids`: inputs (B, T) and targets (B, T), int64, where
    targets[b, t] = inputs[b, t + 1] is the token that follows inputs[b, t].

    Each window is block_size + 1 consecutive tokens of ids (1-D) starting at a position drawn
    uniformly by `generator` (an np.random.Generator) from every start where a whole window
    fits, the last one included; inputs are its first T tokens, targets its last T. A ValueError
    when ids hold fewer than block_size + 1 tokens.
    """
    # BEGIN EXERCISE get_batch: windows of T + 1 tokens at random starts; inputs [:-1], targets [1:]
    if len(ids) < block_size + 1:
        raise ValueError(f"the text has {len(ids)} tokens, fewer than one window of "
                         f"block_size + 1 = {block_size + 1} tokens; use a longer text or "
                         f"a smaller --block-size")
    starts = generator.integers(0, len(ids) - block_size, size=batch_size)
    windows = ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)  # (B, T + 1)
    return windows[:, :-1], windows[:, 1:]
    # END EXERCISE get_batch


def batches(n_examples, batch_size, generator=None):
    """Index arrays of `batch_size` examples (the last may be smaller) that cover each of
    `n_examples` once: shuffled by `generator`, or in order without one (for evaluation)."""
    order = np.arange(n_examples) if generator is None else generator.permutation(n_examples)
    return [order[start:start + batch_size] for start in range(0, n_examples, batch_size)]


def pad_batch(sequences, pad_id):
    """Right-pad token id lists to the longest one.

    Returns idx int64 (B, T) and lengths int64 (B,), the number of real tokens in each row:
    idx[b, :lengths[b]] is sequence b, the rest is `pad_id`. The lengths, not a search for
    `pad_id`, say where each text ends: the pad id is an ordinary token that a text may hold.
    """
    lengths = np.array([len(ids) for ids in sequences], dtype=np.int64)
    if lengths.min(initial=1) == 0:
        raise ValueError("a sequence in the batch has no tokens: there is nothing to read there")
    idx = np.full((len(sequences), lengths.max(initial=1)), pad_id, dtype=np.int64)
    for row, ids in enumerate(sequences):
        idx[row, :len(ids)] = ids
    return idx, lengths

