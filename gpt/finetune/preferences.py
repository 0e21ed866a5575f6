"""Preference data: records with a chosen and a rejected response -> pairs of token ids -> batches.

    {"instruction", "input", "chosen", "rejected", ...}   one record of the JSON file (its
                                                           "output", if any, is not used)
      -> format_prompt(record)                             the Alpaca prompt of instruction
                                                           tuning (gpt/finetune/instructions.py)
      -> prompt ids, chosen ids + [<|endoftext|>],
         rejected ids + [<|endoftext|>]                    one Pair: both answers to one prompt
      -> too long for the context: the prompt is cut from the LEFT, so its end, with the
         "### Response:" header the answers follow, stays; dropped only when the responses
         alone (and that header) do not fit. Chosen and rejected the same: dropped (no
         preference to learn). Both kinds are counted.
      -> collate_pairs: the chosen rows, then the rejected rows, each prompt + response, with
         -100 on the prompt's and the padding's targets (only the responses are scored)

A small context holds few prompts whole (gpt2-tiny's 128 tokens hold 17% of the shared data's
pairs whole), but nearly every pair once the start of its prompt is cut: the instruction's
end and the header are what the answer depends on most, and the preamble is always the same.
"""
from dataclasses import dataclass

from ..tokenizers import require_end_of_text
from .instructions import Example, collate, format_prompt

FIELDS = ("instruction", "input", "chosen", "rejected")
RESPONSE_HEADER = "### Response:"          # what a cut prompt must keep (format_prompt's end)
WHY_END_OF_TEXT = "preference tuning needs one to mark where a response ends"


@dataclass
class Pair:
    """One record as token ids: a prompt (its start cut off if the pair did not fit) and the
    two answers to it, each ending in <|endoftext|>."""
    record: dict
    prompt: list             # prompt ids, perhaps cut from the left
    chosen: list             # the preferred response's ids + [<|endoftext|>]
    rejected: list           # the other one's ids + [<|endoftext|>]
    cut: int = 0             # prompt tokens cut from its start (0: the prompt is whole)

    def examples(self):
        """(prompt + chosen, prompt + rejected) as instruction-tuning Examples."""
        return (Example(self.record, self.prompt + self.chosen, len(self.prompt)),
                Example(self.record, self.prompt + self.rejected, len(self.prompt)))

    def __len__(self):
        """The tokens of the longer of the two sequences."""
        return len(self.prompt) + max(len(self.chosen), len(self.rejected))


@dataclass
class PairCounts:
    """What became of a split's records: kept whole, kept with the prompt cut, dropped."""
    whole: int = 0
    cut: int = 0
    too_long: int = 0        # the responses and the response header alone exceed the context
    same: int = 0            # chosen and rejected are the same tokens: no preference

    def describe(self, block_size):
        """'935 pairs (700 with the prompt cut from the left to fit the context of 128
        tokens; dropped: 4 whose responses alone do not fit, 1 whose responses are the
        same)'."""
        kept = self.whole + self.cut
        dropped = [f"{self.too_long} whose responses alone do not fit"] if self.too_long else []
        dropped += [f"{self.same} whose responses are the same"] if self.same else []
        return (f"{kept} pairs ({self.cut} with the prompt cut from the left to fit the context "
                f"of {block_size} tokens; dropped: {', '.join(dropped) or 'none'})")


def header_length(tokenizer, prompt):
    """The number of tokens at the end of `prompt` (ids of a format_prompt text) that hold
    its "### Response:" header: the least a cut prompt keeps. The prompt is encoded whole,
    as the model sees it when asked to answer, so the header's tokens are found by decoding
    ever longer ends of it."""
    for length in range(1, len(prompt) + 1):
        if RESPONSE_HEADER in tokenizer.decode(prompt[-length:]):
            return length
    raise ValueError(f"the prompt does not end with the {RESPONSE_HEADER!r} header")


def encode_pair(record, tokenizer, eot, block_size):
    """The Pair for `record`, fitted into `block_size` tokens, or None when even its
    responses with the response header do not fit (a literal "<|endoftext|>" in the data
    stays ordinary text, as in instruction tuning). A cut keeps the template's opening ids
    (Llama 3's begin-of-text) and takes tokens from the prompt text after them."""
    opening = list(tokenizer.input_template.before)
    prompt = tokenizer.encode_ordinary(format_prompt(record))
    chosen = tokenizer.encode_ordinary(record["chosen"]) + [eot]
    rejected = tokenizer.encode_ordinary(record["rejected"]) + [eot]
    room = block_size - len(opening) - max(len(chosen), len(rejected))   # prompt tokens that fit
    if room < header_length(tokenizer, prompt):
        return None
    cut = max(len(prompt) - room, 0)
    return Pair(record, opening + prompt[cut:], chosen, rejected, cut)


def encode_pairs(tokenizer, records, block_size, entries=None, path="the data"):
    """(the Pairs of `records` that fit, once cut if need be, and their PairCounts). A record
    the tokenizer cannot encode (a character a character-level model never saw) is a
    ValueError naming its entry in `path`: entries[i] for records[i] (by default i)."""
    eot = require_end_of_text(tokenizer, WHY_END_OF_TEXT)
    pairs, counts = [], PairCounts()
    for i, record in enumerate(records):
        try:
            pair = encode_pair(record, tokenizer, eot, block_size)
        except ValueError as error:
            entry = i if entries is None else entries[i]
            raise ValueError(f"{path}: entry {entry} cannot be encoded: {error}") from None
        if pair is None:
            counts.too_long += 1
        elif pair.chosen == pair.rejected:
            counts.same += 1
        else:
            pairs.append(pair)
            if pair.cut:
                counts.cut += 1
            else:
                counts.whole += 1
    return pairs, counts


def collate_pairs(pairs, pad_id):
    """Inputs and targets (2B, T) int64 for B pairs: rows 0..B-1 are prompt + chosen, rows
    B..2B-1 prompt + rejected (one forward pass scores both), right-padded with pad_id; the
    targets of the prompt and of the padding are -100, so that a row's sequence log-
    probability is that of its response (and <|endoftext|>) given the prompt."""
    chosen, rejected = zip(*(pair.examples() for pair in pairs))
    return collate(list(chosen) + list(rejected), pad_id, mask_prompt=True)
