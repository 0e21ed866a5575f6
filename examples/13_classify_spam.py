"""13 - Classifying spam: a pretrained GPT, a new head, and each text's last real token.

A language model's head turns every position's hidden state into next-token scores. To
classify a whole text instead, keep the body (embeddings, blocks, ln_f) and put a small new
head on it: a Linear from one hidden state (C numbers) to one score per class. Which position?
Attention is causal: position t has seen tokens 0..t and nothing after. Only the text's LAST
token has seen all of it, and in a right-padded batch that is position lengths[b] - 1, not
the last column (which may be padding).

    idx (B, T) right-padded -> the body's hidden states (B, T, C) -> hidden[b, lengths[b] - 1]  (B, C)
                            -> score: Linear(C, 2), no bias -> logits (B, 2) -> cross-entropy

This walks through the SMS spam data (balanced, split), the tokens, a padded batch and where
each text ends, the head, the accuracy of gpt2-tiny with a random head, a short fine-tuning
on a subset, the accuracy after, and two new messages.

Run it:              python examples/13_classify_spam.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/13_classify_spam.py
In a debugger:       python -m pdb examples/13_classify_spam.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/finetune/labeled_texts.py (the data), gpt/finetune/classifier.py (the model) and gpt/finetune/train_classifier.py
(the training), and run the full recipe (5 epochs over all 1,045 training messages):
    python -m gpt finetune-classify --model ../shared/data/gpt2-tiny \\
        --data ../shared/data/sms_spam.tsv --out runs/spam
    python -m gpt classify --model runs/spam --text "Free entry! Text WIN to 80086"
"""
import os
import sys
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
from gpt import GPT
from gpt.data import pad_batch
from gpt.finetune.classifier import GPTClassifier
from gpt.finetune.labeled_texts import (SPAM_LABELS, balanced_splits, encode_and_truncate,
                                        read_labeled_texts)
from gpt.finetune.train_classifier import (ClassifyConfig, evaluate, fine_tune,
                                           predict_probabilities, set_trainable)
from gpt.tokenizers import load_tokenizer, padding_id

FAST = os.environ.get("EXAMPLES_FAST") == "1"
N_TRAIN = 128 if FAST else 256             # training messages used here (of 1,045)
N_VALIDATION = 32 if FAST else 149
N_TEST = 100 if FAST else 300
EPOCHS = 2
# The book's 5e-5 is for 5 epochs over every message; a short run on a subset needs larger steps.
LR = 1e-3
SEED = 123
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"

if not DATA.is_dir():
    sys.exit(f"error: the reference data folder {DATA} is missing (it holds gpt2-tiny and "
             f"sms_spam.tsv)")


def shorten(text, width=60):
    return text if len(text) <= width else text[:width - 3] + "..."


def show(row):
    return "[" + ", ".join(f"{value:+.6f}" for value in row) + "]"


def piece(tokenizer, token):
    return bpe.render_token(tokenizer.decode_bytes([int(token)]))


# ---- 1. The data: balanced, then split -------------------------------------------------------
tt.memory.keep_freed_memory()          # reuse freed pages between training steps
examples = read_labeled_texts(DATA / "sms_spam.tsv", SPAM_LABELS)
counts = np.bincount([e.label for e in examples])
print("== 1. the data: sms_spam.tsv, a label, a tab, a message ==")
print(f"{len(examples):,} messages: {counts[0]:,} ham, {counts[1]:,} spam")
for label in (0, 1):
    first = next(e for e in examples if e.label == label)
    print(f"  line {first.line}: {SPAM_LABELS[label]:4} | {shorten(first.text)}")
splits = balanced_splits(examples, SPAM_LABELS, SEED)
n_balanced = sum(len(split) for split in splits.values())
print(f"balanced by undersampling ham (seed {SEED}): {n_balanced // 2:,} ham + "
      f"{n_balanced // 2:,} spam = {n_balanced:,}")
print(f"split 70/10/20: {len(splits['train']):,} train, {len(splits['validation']):,} "
      f"validation, {len(splits['test']):,} test")
print("(always answering 'ham' would score 87% on the whole file; on balanced data, 50%)")

# ---- 2. Messages as tokens -------------------------------------------------------------------
gpt = GPT.from_pretrained(DATA / "gpt2-tiny")
tokenizer = load_tokenizer(DATA / "gpt2-tiny")
block_size = gpt.config.block_size
print("\n== 2. messages as tokens ==")
message = splits["train"][0]
ids = tokenizer.encode_ordinary(message.text)
print(f"message: {message.text!r} ({SPAM_LABELS[message.label]})")
print(f"ids:     {ids} ({len(ids)} tokens)")
lengths_all = [len(tokenizer.encode_ordinary(e.text)) for split in splits.values() for e in split]
n_long = sum(n > block_size for n in lengths_all)
print(f"the longest balanced message has {max(lengths_all)} tokens; {n_long} of {n_balanced:,} "
      f"are longer than the context ({block_size}) and keep their first {block_size}")

# ---- 3. A padded batch, and where each text ends ---------------------------------------------
print("\n== 3. a padded batch and each row's last real token ==")
pad_id = padding_id(tokenizer)          # <|endoftext|>, read from the tokenizer: 0 here
shortest = sorted(splits["train"], key=lambda e: len(tokenizer.encode_ordinary(e.text)))
batch_texts = [shortest[40].text, shortest[5].text, shortest[20].text]
sequences = [tokenizer.encode_ordinary(text) for text in batch_texts]
idx, lengths = pad_batch(sequences, pad_id)                          # (B, T), (B,)
print(f"pad id {pad_id} = {piece(tokenizer, pad_id)}; idx {idx.shape}, lengths "
      f"{lengths.tolist()}")
for row, text in enumerate(batch_texts):
    last = lengths[row] - 1
    print(f"  row {row}: {idx[row].tolist()}")
    print(f"         {text!r}: last real token at position {last}, id {idx[row, last]} "
          f"{piece(tokenizer, idx[row, last])}")

# ---- 4. The head reads the hidden state at that position -------------------------------------
print("\n== 4. the new head on the last real token ==")
model = GPTClassifier.from_gpt(gpt, SPAM_LABELS, seed=SEED).eval()
# What model(idx, lengths) does, by hand: the body, then each row's last real token.
with tt.no_grad():
    hidden = model.transformer(idx)                                   # (B, T, C)
    # breakpoint: `lengths` (real tokens per message), `hidden.shape` (B, T, C), then `n` and
    #   `features.shape` (B, C): one row per message, its last real token
    features = hidden[np.arange(len(lengths)), lengths - 1]          # (B, C)
    logits = model(idx, lengths)                                      # (B, 2)
    alone = model(np.array([sequences[1]]))                           # (1, 2), no padding
    last_column = model(idx)                                          # reads padding in row 1
print(f"hidden states {hidden.shape} -> rows at lengths - 1: {features.shape} -> score "
      f"{model.score.weight.shape} -> logits {logits.shape}")
print(f"the head is {model.score.weight.numel()} new parameters on a body of "
      f"{gpt.num_parameters():,}")
print(f"row 1 in the batch: logits {show(logits.data[1])}")
print(f"row 1 alone:        logits {show(alone.data[0])}")
print(f"largest difference: {np.abs(logits.data[1] - alone.data[0]).max():.1e} "
      f"(padding comes after the text, and attention never looks ahead)")
print(f"the last column instead (padding): {show(last_column.data[1])}")

# ---- 5. Accuracy before training -------------------------------------------------------------
subsets = {name: encode_and_truncate(tokenizer, splits[name][:size], block_size)
           for name, size in (("train", N_TRAIN), ("validation", N_VALIDATION),
                              ("test", N_TEST))}
print("\n== 5. before training: a random head ==")
_, accuracy_before = evaluate(model, subsets["test"], pad_id)
print(f"test accuracy on {N_TEST} messages: {100 * accuracy_before:.1f}%")

# ---- 6. Fine-tuning --------------------------------------------------------------------------
print(f"\n== 6. fine-tuning every parameter: {N_TRAIN} training messages, {EPOCHS} epochs, "
      f"AdamW lr {LR} ==")
config = ClassifyConfig(trainable="all", epochs=EPOCHS, lr=LR, seed=SEED)
set_trainable(model, config.trainable)        # the others are frozen: requires_grad False
history = fine_tune(model, subsets, pad_id, config)

# ---- 7. After ---------------------------------------------------------------------------------
print("\n== 7. after training ==")
accuracy_after = history[-1]["test_accuracy"]
print(f"test accuracy on {N_TEST} messages: {100 * accuracy_before:.1f}% -> "
      f"{100 * accuracy_after:.1f}%")
new_messages = [            # the two messages of the LLMs-from-scratch book, chapter 6
    "You are a winner you have been specially selected to receive $1000 cash or a $2000 award.",
    "Hey, just wanted to check if we're still on for dinner tonight? Let me know!"]
probabilities = predict_probabilities(model, tokenizer, new_messages)          # (2, 2)
for text, probs in zip(new_messages, probabilities):
    best = int(probs.argmax())
    print(f"{SPAM_LABELS[best]} {probs[best]:.2f}  <- {text!r}")
