"""Fine-tuning a pretrained GPT into a text classifier (the spam task of LLMs-from-scratch ch. 6).

    GPT.from_pretrained(model_dir)  ->  GPTClassifier: the body + a new head (gpt.finetune.classifier)
    sms_spam.tsv  ->  balanced 70 / 10 / 20 splits of token ids  (gpt.finetune.labeled_texts)
    choose what trains: the head, the last block (+ ln_f + head), everything, or LoRA + head
    epochs x (shuffled batches: cross-entropy of the logits, backward, clip to 1.0, AdamW:
              gpt.training_step)
    loss and accuracy on every split after every epoch; save the classifier with its labels

Frozen parameters have requires_grad=False: the backward pass computes no gradient for them
and the optimizer (gpt.training_step.make_adamw) never sees them, so they hold no optimizer
state either.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.nn import evaluating

from ..data import batches, pad_batch
from ..safeguards.output_dir import atomic_directory
from ..seeds import stream
from ..tokenizers import encode_text, padding_id
from ..training_step import (check_finite_loss, make_adamw, optimizer_step, quiet_divergence,
                             trainable_parameters)
from .classifier import GPTClassifier, write_classifier
from .labeled_texts import SPAM_LABELS, balanced_splits, encode_and_truncate, read_labeled_texts
from .lora import add_lora, count_parameters, merge_lora
from .shared import SPLITS, FinetuneConfig, load_base_model, require_files

TRAINABLE_CHOICES = ("head", "last-block", "all")


@dataclass
class ClassifyConfig(FinetuneConfig):
    """The settings of `python -m gpt finetune-classify` (FinetuneConfig's, and what trains):
    chapter 6's 5 epochs; trainable is "head", "last-block" or "all", unless lora_rank asks
    for LoRA adapters in every block (and the head)."""

    trainable: str = "all"
    epochs: int = 5

    def __post_init__(self):
        super().__post_init__()
        if self.trainable not in TRAINABLE_CHOICES:
            raise ValueError(f"trainable must be one of {', '.join(TRAINABLE_CHOICES)}, got "
                             f"{self.trainable!r}")


# ----- what trains ---------------------------------------------------------------------------

def set_trainable(model, trainable):
    """Freeze `model`, then unfreeze "head" (score), "last-block" (the last block, ln_f and
    the head) or "all"; returns the trainable parameters."""
    if trainable not in TRAINABLE_CHOICES:
        raise ValueError(f"trainable must be one of {TRAINABLE_CHOICES}, got {trainable!r}")
    model.requires_grad_(trainable == "all")
    model.score.requires_grad_(True)
    if trainable == "last-block":
        # The last block's output passes through ln_f on its way to the head.
        model.transformer.h[-1].requires_grad_(True)
        model.transformer.ln_f.requires_grad_(True)
    return trainable_parameters(model)


def set_trainable_lora(model, rank, alpha, seed):
    """LoRA matrices of rank `rank` on every block's c_attn, attn.c_proj, mlp.c_fc and
    mlp.c_proj (gpt.finetune.lora.add_lora), and the head; everything else frozen. Returns the
    trainable parameters."""
    add_lora(model, rank, alpha, seed)
    model.score.requires_grad_(True)
    return trainable_parameters(model)


# ----- one epoch, one evaluation -------------------------------------------------------------

def train_epoch(model, optimizer, split, pad_id, config, generator):
    """One pass over (sequences, labels) in shuffled batches; returns the mean batch loss."""
    sequences, labels = split
    model.train()
    losses = []
    for rows in batches(len(sequences), config.batch_size, generator):
        idx, lengths = pad_batch([sequences[i] for i in rows], pad_id)       # (B, T), (B,)
        loss = F.cross_entropy(model(idx, lengths), labels[rows])
        loss.backward()
        losses.append(optimizer_step(model, optimizer, loss.item(), config.grad_clip))
    return float(np.mean(losses))


def evaluate(model, split, pad_id, batch_size=32):
    """(mean cross-entropy, accuracy) over every example of a split; dropout off."""
    sequences, labels = split
    total_loss, correct = 0.0, 0
    with evaluating(model), tt.no_grad():
        for rows in batches(len(sequences), batch_size):
            idx, lengths = pad_batch([sequences[i] for i in rows], pad_id)
            logits = model(idx, lengths)                                     # (B, n_classes)
            total_loss += F.cross_entropy(logits, labels[rows], reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == labels[rows]).sum())
    return total_loss / len(sequences), correct / len(sequences)


def evaluate_splits(model, splits, pad_id):
    """{"train_loss": ..., "train_accuracy": ..., "validation_loss": ..., ...}."""
    figures = {}
    for name in SPLITS:
        loss, figures[f"{name}_accuracy"] = evaluate(model, splits[name], pad_id)
        # after the last step, only these losses can show that it diverged
        figures[f"{name}_loss"] = check_finite_loss(loss, f"the {name} loss")
    return figures


def figures_line(epoch, epochs, figures):
    parts = [f"{name} loss {figures[f'{name}_loss']:.4f} acc "
             f"{100 * figures[f'{name}_accuracy']:5.1f}%" for name in SPLITS]
    timing = f" | {figures['seconds']:.1f} s" if "seconds" in figures else " (before training)"
    return f"epoch {epoch}/{epochs} | " + " | ".join(parts) + timing


def fine_tune(model, splits, pad_id, config, log=print):
    """Train the trainable parameters of `model` (chosen by set_trainable or
    set_trainable_lora) for config.epochs on splits["train"] (each split a pair: token id
    lists, labels (N,)); returns one dict of figures per epoch, the first (epoch 0) from
    before training."""
    optimizer = make_adamw(model, config.lr, config.weight_decay)
    generator = stream("classification batches", config.seed)
    history = [{"epoch": 0, **evaluate_splits(model, splits, pad_id)}]
    log(figures_line(0, config.epochs, history[0]))
    with quiet_divergence():
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            batch_loss = train_epoch(model, optimizer, splits["train"], pad_id, config, generator)
            seconds = time.perf_counter() - started
            figures = {"epoch": epoch, "mean_batch_loss": batch_loss, "seconds": seconds,
                       **evaluate_splits(model, splits, pad_id)}
            history.append(figures)
            log(figures_line(epoch, config.epochs, figures))
    return history


# ----- the whole run: python -m gpt finetune-classify ---------------------------------------

def prepare_splits(data_path, tokenizer, block_size, seed, label_names=SPAM_LABELS, log=print):
    """{"train" | "validation" | "test": (token id lists, labels)} from a label<TAB>text file."""
    examples = read_labeled_texts(data_path, label_names)
    counts = np.bincount([e.label for e in examples], minlength=len(label_names))
    splits = balanced_splits(examples, label_names, seed)
    log(f"{data_path}: " + ", ".join(f"{n:,} {name}" for name, n in zip(label_names, counts))
        + "; balanced and split: " + ", ".join(f"{len(splits[s]):,} {s}" for s in SPLITS))
    return {name: encode_and_truncate(tokenizer, splits[name], block_size, data_path)
            for name in SPLITS}


def finetune_classifier(config, log=print):
    """Fine-tune the GPT in config.model on config.data and save the classifier in config.out
    (a new directory); returns {"history": per-epoch figures, "trainable", "total", "out"}.

    config.out is checked and reserved at once (before minutes of training, not after) and
    appears, whole, only at the end (gpt.safeguards.output_dir)."""
    require_files(config)
    with atomic_directory(config.out) as temporary:
        result = fine_tune_into(temporary, config, log)
    log(f"saved the classifier in {config.out}")
    return {**result, "out": Path(config.out)}


def fine_tune_into(folder, config, log):
    """finetune_classifier's work, writing the classifier into `folder`."""
    gpt, tokenizer = load_base_model(config.model)
    splits = prepare_splits(config.data, tokenizer, gpt.config.block_size, config.seed, log=log)
    model = GPTClassifier.from_gpt(gpt, SPAM_LABELS, seed=config.seed)
    if config.lora_rank is None:
        set_trainable(model, config.trainable)
        what = f"trainable: {config.trainable}"
    else:
        set_trainable_lora(model, config.lora_rank, config.lora_alpha, config.seed)
        what = f"trainable: LoRA rank {config.lora_rank}, alpha {config.lora_alpha}, + head"
    trainable, total = count_parameters(model)
    log(f"{what}: {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%)")
    history = fine_tune(model, splits, padding_id(tokenizer), config, log=log)
    if config.lora_rank is not None:
        merge_lora(model)                # a plain GPT-2 body again, in the usual layout
    write_classifier(model, tokenizer, folder)
    return {"history": history, "trainable": trainable, "total": total}


# ----- using a classifier: python -m gpt classify ---------------------------------------------

def predict_probabilities(model, tokenizer, texts, batch_size=32):
    """Class probabilities (N, n_classes) for a list of texts, each cut to the model's
    context (its first block_size tokens, as in training)."""
    sequences = [encode_text(tokenizer, text)[:model.config.block_size] for text in texts]
    for text, ids in zip(texts, sequences):
        if not ids:
            raise ValueError(f"nothing to classify: {text!r} has no tokens")
    probabilities = []
    with evaluating(model), tt.no_grad():
        for start in range(0, len(sequences), batch_size):
            idx, lengths = pad_batch(sequences[start:start + batch_size], padding_id(tokenizer))
            probabilities.append(F.softmax(model(idx, lengths), dim=-1).data)
    return np.concatenate(probabilities)
