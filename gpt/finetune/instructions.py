"""Instruction data: records -> Alpaca prompts -> token ids -> batches with a masked loss.

    {"instruction": ..., "input": ..., "output": ...}      one record of the JSON file
      -> format_prompt(record) + record["output"]          the Alpaca template (below)
      -> prompt ids + response ids + [<|endoftext|>]       one Example; longer than the
                                                           context: dropped and counted
      -> collate: right-pad with <|endoftext|>, inputs = ids[:-1], targets = ids[1:],
         -100 wherever the loss must not look (padding; with mask_prompt, the prompt too)

The template is Alpaca's, as chapter 7 of "Build a Large Language Model (From Scratch)" uses it:

    Below is an instruction that describes a task. Write a response that appropriately
    completes the request.

    ### Instruction:
    {instruction}

    ### Input:              <- only when the record's input is not empty
    {input}

    ### Response:
    {output}<|endoftext|>
"""
import json
from dataclasses import dataclass

import numpy as np

from ..seeds import stream
from ..tokenizers import encode_text, require_end_of_text

PREAMBLE = ("Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.")
FIELDS = ("instruction", "input", "output")
IGNORE_INDEX = -100          # cross_entropy's ignore_index, as in PyTorch


# ----- the template --------------------------------------------------------------------------

def format_prompt(record):
    """Everything the model is given: the preamble, the instruction, the input if there is
    one, and the "### Response:" header it answers after."""
    prompt = f"{PREAMBLE}\n\n### Instruction:\n{record['instruction']}"
    if record["input"]:
        prompt += f"\n\n### Input:\n{record['input']}"
    return prompt + "\n\n### Response:\n"


def format_example(record):
    """The whole text the model learns from: the prompt followed by the wanted response."""
    return format_prompt(record) + record["output"]


# ----- reading the file ----------------------------------------------------------------------

def read_records(path, fields=FIELDS):
    """The records of a JSON file holding a list of objects with a string for each of
    `fields` ({"instruction", "input", "output"}; other keys are kept, unread); a ValueError
    names the entry, its line and what was expected."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
        records = json.loads(text)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not valid UTF-8 (byte offset {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}, "
                         f"column {error.colno}") from None
    expected = "an object {" + ", ".join(f'"{field}": str' for field in fields) + "}"
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of {expected}, "
                         f"got a JSON {type(records).__name__}")
    for index, record in enumerate(records):
        problem = record_problem(record, fields)
        if problem:
            raise ValueError(f"{path}: entry {index} (line {entry_line(text, index)}) "
                             f"{problem}; expected {expected}")
    return records


def record_problem(record, fields=FIELDS):
    """What is wrong with one record (a short phrase), or None if nothing is."""
    if not isinstance(record, dict):
        return f"is a JSON {type(record).__name__}"
    for field in fields:
        if field not in record:
            return f"has no {field!r}"
        if not isinstance(record[field], str):
            return f"has a {type(record[field]).__name__} for {field!r}, not a string"
    return None


def entry_line(text, index):
    """The line (1-based) where element `index` of the JSON list in `text` starts.

    `json.loads` does not say where a value came from, so walk the list again, element by
    element, with the decoder's raw_decode (which returns where each value ends)."""
    decoder, position = json.JSONDecoder(), text.index("[") + 1
    for element in range(index + 1):
        while text[position] in " \t\r\n,":
            position += 1
        if element == index:
            return text.count("\n", 0, position) + 1
        _, position = decoder.raw_decode(text, position)


# ----- the split -----------------------------------------------------------------------------

def split_records(records, seed, stream_name="instruction split"):
    """A seeded shuffle (the random stream `stream_name` of gpt.seeds), then 85% train, 10%
    test and the rest (5%) validation, the book's proportions and order. Returns
    {"train": [...], "validation": [...], "test": [...]}."""
    order = stream(stream_name, seed).permutation(len(records))
    shuffled = [records[i] for i in order]
    n_train, n_test = int(0.85 * len(records)), int(0.10 * len(records))
    return {"train": shuffled[:n_train],
            "validation": shuffled[n_train + n_test:],
            "test": shuffled[n_train:n_train + n_test]}


# ----- token ids -----------------------------------------------------------------------------

@dataclass
class Example:
    """One record as token ids: ids = prompt ids + response ids + [<|endoftext|>]."""
    record: dict
    ids: list
    prompt_length: int       # ids[:prompt_length] is the prompt

    def __len__(self):
        return len(self.ids)


def encode_example(record, tokenizer, eot):
    """The Example for `record`. Prompt and response are encoded separately, so the prompt's
    ids are exactly those the model sees when it is asked to answer (and the mask knows where
    the response starts); a literal "<|endoftext|>" in the data stays ordinary text."""
    prompt = encode_text(tokenizer, format_prompt(record))
    response = tokenizer.encode_ordinary(record["output"])
    return Example(record, prompt + response + [eot], len(prompt))


def encode_and_drop_long(tokenizer, records, block_size):
    """(examples that fit, number dropped): an example of more than `block_size` tokens
    (end-of-text included) could not be seen whole, nor answered in full, by the model."""
    eot = require_end_of_text(tokenizer)
    examples = [encode_example(record, tokenizer, eot) for record in records]
    kept = [example for example in examples if len(example) <= block_size]
    return kept, len(examples) - len(kept)


# ----- batches -------------------------------------------------------------------------------

def collate(examples, pad_id, mask_prompt=False):
    """Inputs and targets (B, T) int64 for a batch, T = the longest example's length - 1.

    Each row is right-padded with `pad_id` (<|endoftext|>); inputs = ids[:-1] and targets =
    ids[1:], so targets[t] is the token after inputs[t]. Targets set to -100 are ignored by
    the loss: every padding target after the example's own end-of-text (which is kept, so the
    model learns to stop) and, with mask_prompt, every target that is still part of the
    prompt (so only the response, and its end, are learned).
    An Example has `ids` (a list of ints) and `prompt_length` (ids[:prompt_length] is the
    prompt). The examples are left as they are.
    """
    # BEGIN EXERCISE instruction_collate: shift by one, pad with pad_id / -100; mask the prompt
    T = max(len(example) for example in examples) - 1
    inputs = np.full((len(examples), T), pad_id, dtype=np.int64)
    targets = np.full((len(examples), T), IGNORE_INDEX, dtype=np.int64)
    for row, example in enumerate(examples):
        n = len(example) - 1                    # real positions: the last id is only a target
        inputs[row, :n] = example.ids[:-1]
        targets[row, :n] = example.ids[1:]      # ends with the end-of-text target
        if mask_prompt:
            # targets[t] is ids[t + 1]: a prompt token while t + 1 < prompt_length
            targets[row, :max(example.prompt_length - 1, 0)] = IGNORE_INDEX
    return inputs, targets
    # END EXERCISE instruction_collate
