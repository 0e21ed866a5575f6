"""Every random stream a seed feeds, in one table: the reproducibility promise, auditable.

A run's `--seed` feeds several independent streams of random numbers (the initial weights, the
dropout masks, the order of batches, ...). Each consumer asks for its stream by name here:

    generator = stream("dropout", seed)         # np.random.default_rng([seed, 1])

so two consumers cannot share a stream by accident, and the same seed gives the same bits.
A stream is NumPy's generator seeded with the seed plus an offset, and a stream number
([seed + offset, number], an independent sequence) where one is given. The values are those
the project has always used, so every seeded result is what it was.

Streams within one run must differ (tests/gpt/test_seeds.py checks it for each command);
different commands may reuse a value, since they never run in one process together.
"""
import numpy as np

# name: (offset added to the seed, stream number or None), and who uses it
STREAMS = {
    # every model
    "weights": (0, None),                    # GPT(seed): the initial weights
    "dropout": (0, 1),                       # GPT(seed): the dropout masks
    # python -m gpt train
    "training batches": (0, 2),              # the windows of every training step
    "training-loss evaluation": (10, None),  # the batches an evaluation of the training loss sees
    "validation": (20, None),                # the batches every validation loss sees
    # python -m gpt finetune-classify
    "classification split": (0, None),       # which ham messages are kept, the 70/10/20 split
    "classifier head": (0, 2),               # the new head's initial weights
    "lora": (0, 3),                          # lora_A's initial values (both fine-tuning runs)
    "classification batches": (0, 4),        # the order of the training examples each epoch
    # python -m gpt finetune-instruct
    "instruction split": (0, None),          # the 85/5/10 split of the records
    "instruction batches": (0, 2),           # the order of the training examples each epoch
    # python -m gpt explain
    "explain sampling": (0, None),           # the page's "next token": generate(seed)'s draws
    # python -m gpt finetune-preference
    "preference split": (0, None),           # the 85/5/10 split of the pairs: the instruction
                                             # split's permutation, so with one seed and the
                                             # same records in the same order (as the two
                                             # shared data files are) its test prompts are
                                             # ones instruction tuning never trained on
    "preference batches": (0, 2),            # the order of the training pairs each epoch
}

# The streams each command draws from: within one, no two may be the same.
COMMANDS = {
    "train": ("weights", "dropout", "training batches", "training-loss evaluation",
              "validation"),
    "finetune-classify": ("dropout", "classification split", "classifier head", "lora",
                          "classification batches"),
    "finetune-instruct": ("dropout", "instruction split", "lora", "instruction batches"),
    "explain": ("explain sampling",),
    "finetune-preference": ("dropout", "preference split", "lora", "preference batches"),
}


def stream(name, seed):
    """The generator of stream `name` for `seed` (a fresh unseeded one for seed=None)."""
    if name not in STREAMS:
        raise KeyError(f"no random stream named {name!r}; the streams are {sorted(STREAMS)}")
    if seed is None:
        return np.random.default_rng()
    offset, number = STREAMS[name]
    return np.random.default_rng(seed + offset if number is None else [seed + offset, number])
