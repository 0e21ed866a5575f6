"""Labelled texts for classification: read, balance, split, encode.

    sms_spam.tsv  ->  LabeledText(line, label, text) per message   (read_labeled_texts)
                  ->  as many of each class as of the rarest one     (balance_classes)
                  ->  train / validation / test, 70 / 10 / 20         (split_examples)
                  ->  token ids, cut to the model's context           (encode_and_truncate)
                  ->  right-padded batches + each row's length        (gpt.data.pad_batch)

The file is a header line, then one example a line: a label, a tab, the text:

    Label<TAB>SMS
    ham<TAB>Ok lar... Joking wif u oni...
    spam<TAB>Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. ...

Every random choice (which ham messages are kept, the order of the split) comes from one
generator seeded by the caller, so the same seed gives the same splits.
"""
from dataclasses import dataclass

import numpy as np

from ..seeds import stream
from ..tokenizers import encode_text
from .shared import SPLITS

SPAM_LABELS = ("ham", "spam")            # label 0 and label 1
SPLIT_FRACTIONS = (0.7, 0.1)             # train, validation; the test split gets the rest


@dataclass(frozen=True)
class LabeledText:
    """One example: where it came from (1-based line, for error messages), its label's index
    into the label names, and its text."""

    line: int
    label: int
    text: str


# ----- reading -------------------------------------------------------------------------------

def read_labeled_texts(path, label_names=SPAM_LABELS):
    """Every example of a `label<TAB>text` file after its header line, in file order.

    A line that is not `label<TAB>text`, a label not in `label_names` or an empty text is a
    ValueError naming the file, the line and what was expected.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(f"{path} line {line}: not valid UTF-8 (byte 0x{raw[error.start]:02x})"
                         ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()                                # the newline that ends the last line
    if not lines or "\t" not in lines[0]:
        raise ValueError(f"{path} line 1: expected a header line of two tab-separated column "
                         f"names, such as 'Label<TAB>SMS'")
    label_ids = {name: i for i, name in enumerate(label_names)}
    return [parse_line(path, number, line, label_ids)
            for number, line in enumerate(lines[1:], start=2)]


def parse_line(path, number, line, label_ids):
    """The LabeledText on line `number`, or a ValueError saying what was expected there."""
    label, tab, text = line.rstrip("\r").partition("\t")
    if not tab:
        raise ValueError(f"{path} line {number}: expected a label, a tab and a text, got "
                         f"{shorten(line)!r}")
    if label not in label_ids:
        known = ", ".join(repr(name) for name in label_ids)
        raise ValueError(f"{path} line {number}: the label {shorten(label)!r} is not one of "
                         f"the known labels {known}")
    if not text.strip():
        raise ValueError(f"{path} line {number}: expected a text after the tab, got nothing")
    return LabeledText(number, label_ids[label], text)


def shorten(text, width=40):
    return text if len(text) <= width else text[:width] + "..."


# ----- balancing and splitting ---------------------------------------------------------------

def balance_classes(examples, label_names, generator):
    """Undersample: keep as many examples of each class as the rarest class has, chosen at
    random by `generator`, in file order. With 4,827 ham and 747 spam messages: 747 of each.

    Balanced classes make accuracy meaningful (always answering "ham" would score 87% on the
    whole file, 50% here) and keep the loss from favouring the common class.
    """
    labels = np.array([example.label for example in examples])
    by_class = [np.flatnonzero(labels == label) for label in range(len(label_names))]
    for name, rows in zip(label_names, by_class):
        if len(rows) == 0:
            raise ValueError(f"there are no {name!r} examples: the classes cannot be balanced")
    n_per_class = min(len(rows) for rows in by_class)
    kept = np.concatenate([generator.choice(rows, n_per_class, replace=False)
                           for rows in by_class])
    return [examples[i] for i in np.sort(kept)]


def split_examples(examples, generator, fractions=SPLIT_FRACTIONS):
    """{"train", "validation", "test"}: a random permutation cut 70 / 10 / 20.

    The sizes are int(0.7 n), int(0.1 n) and the rest (1,045, 149 and 300 of 1,494), as in
    the LLMs-from-scratch book. An empty split is a ValueError.
    """
    order = generator.permutation(len(examples))
    train_end = int(len(examples) * fractions[0])
    validation_end = train_end + int(len(examples) * fractions[1])
    pieces = np.split(order, [train_end, validation_end])
    splits = {}
    for name, rows in zip(SPLITS, pieces):
        if len(rows) == 0:
            raise ValueError(f"the {name} split is empty: {len(examples)} balanced examples "
                             f"are too few for a {fractions[0]:.0%} / {fractions[1]:.0%} / "
                             f"rest split")
        splits[name] = [examples[i] for i in rows]
    return splits


def balanced_splits(examples, label_names, seed):
    """balance_classes, then split_examples, with one generator: the "classification split"
    stream of `seed` (gpt.seeds)."""
    generator = stream("classification split", seed)
    return split_examples(balance_classes(examples, label_names, generator), generator)


# ----- tokens and a batch --------------------------------------------------------------------

def encode_and_truncate(tokenizer, examples, block_size, path="the data"):
    """(token id lists, labels int64 (N,)), each list cut to its first `block_size` tokens:
    the model has no positions beyond its context. Texts are plain text (encode_ordinary): a
    message that happens to contain "<|endoftext|>" is those characters, not the special
    token (and not an error). A text the tokenizer cannot encode (a character a char-level
    model never saw) is a ValueError naming its line."""
    sequences = []
    for example in examples:
        try:
            ids = encode_text(tokenizer, example.text)
        except ValueError as error:
            raise ValueError(f"{path} line {example.line}: cannot encode the text: {error}"
                             ) from None
        sequences.append(ids[:block_size])
    labels = np.array([example.label for example in examples], dtype=np.int64)
    return sequences, labels
