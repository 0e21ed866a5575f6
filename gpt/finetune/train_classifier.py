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

from ..safeguards.checks import integer, number, optional_integer
from .classifier import GPTClassifier, padding_id, write_classifier
from .labeled_texts import (SPAM_LABELS, SPLIT_NAMES, balanced_splits, encode_examples,
                            pad_batch, read_labeled_texts)
from ..data import batches
from .lora import add_lora, count_parameters, merge_lora
from ..model import GPT
from ..safeguards.output_dir import atomic_directory
from ..tokenizers import load_tokenizer
from ..training_step import (check_finite_loss, make_adamw, optimizer_step, quiet_divergence,
                            trainable_parameters)

TRAINABLE_CHOICES = ("head", "last-block", "all")


@dataclass
class ClassifyConfig:
    """Settings of a fine-tuning run. lr and weight decay are chapter 6's (AdamW, 5e-5, 0.1);
    so are the batch size, the epochs and the seed. lora_rank: train rank-r LoRA matrices
    in every block, and the head, instead of `trainable`; lora_alpha: their scale's
    numerator (None: twice the rank)."""

    trainable: str = "all"
    epochs: int = 5
    lr: float = 5e-5
    weight_decay: float = 0.1
    batch_size: int = 8
    grad_clip: float = 1.0
    lora_rank: int = None
    lora_alpha: float = None
    seed: int = 123

    def __post_init__(self):
        if self.trainable not in TRAINABLE_CHOICES:
            raise ValueError(f"trainable must be one of {', '.join(TRAINABLE_CHOICES)}, got "
                             f"{self.trainable!r}")
        self.epochs = integer(self.epochs, "--epochs", minimum=1)
        self.batch_size = integer(self.batch_size, "--batch-size", minimum=1)
        self.seed = integer(self.seed, "--seed", minimum=0)
        self.lr = number(self.lr, "--lr", "(0, inf)")
        self.weight_decay = number(self.weight_decay, "weight_decay", "[0, inf)")
        self.grad_clip = number(self.grad_clip, "grad_clip", "(0, inf]")     # inf: no clipping
        self.lora_rank = optional_integer(self.lora_rank, "--lora-rank", minimum=1)
        if self.lora_rank is not None and self.lora_alpha is None:
            self.lora_alpha = 2 * self.lora_rank        # alpha / r = 2, whatever the rank
        if self.lora_alpha is not None:
            number(self.lora_alpha, "lora_alpha", "(0, inf)")     # 8 stays 8, as it is shown


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


@tt.no_grad()
def evaluate(model, split, pad_id, batch_size=32):
    """(mean cross-entropy, accuracy) over every example of a split; dropout off."""
    sequences, labels = split
    model.eval()
    total_loss, correct = 0.0, 0
    for rows in batches(len(sequences), batch_size):
        idx, lengths = pad_batch([sequences[i] for i in rows], pad_id)
        logits = model(idx, lengths)                                         # (B, n_classes)
        total_loss += F.cross_entropy(logits, labels[rows], reduction="sum").item()
        correct += int((logits.data.argmax(axis=1) == labels[rows]).sum())
    return total_loss / len(sequences), correct / len(sequences)


def evaluate_splits(model, splits, pad_id):
    """{"train_loss": ..., "train_accuracy": ..., "validation_loss": ..., ...}."""
    figures = {}
    for name in SPLIT_NAMES:
        loss, figures[f"{name}_accuracy"] = evaluate(model, splits[name], pad_id)
        # after the last step, only these losses can show that it diverged
        figures[f"{name}_loss"] = check_finite_loss(loss, f"the {name} loss")
    return figures


def figures_line(epoch, epochs, figures):
    parts = [f"{name} loss {figures[f'{name}_loss']:.4f} acc "
             f"{100 * figures[f'{name}_accuracy']:5.1f}%" for name in SPLIT_NAMES]
    timing = f" | {figures['seconds']:.1f} s" if "seconds" in figures else " (before training)"
    return f"epoch {epoch}/{epochs} | " + " | ".join(parts) + timing


def fine_tune(model, splits, pad_id, config, log=print):
    """Train the trainable parameters of `model` (chosen by set_trainable or
    set_trainable_lora) for config.epochs on splits["train"] (each split a pair: token id
    lists, labels (N,)); returns one dict of figures per epoch, the first (epoch 0) from
    before training."""
    tt.memory.keep_freed_memory()      # reuse freed pages: no page faults every step
    optimizer = make_adamw(model, config.lr, config.weight_decay)
    generator = np.random.default_rng([config.seed, 4])                # batch order
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

def load_base_model(model_dir):
    """(GPT, tokenizer) to fine-tune: a language model (GPT.from_pretrained refuses a
    classifier)."""
    return GPT.from_pretrained(model_dir), load_tokenizer(model_dir)


def prepare_splits(data_path, tokenizer, block_size, seed, label_names=SPAM_LABELS, log=print):
    """{"train" | "validation" | "test": (token id lists, labels)} from a label<TAB>text file."""
    examples = read_labeled_texts(data_path, label_names)
    counts = np.bincount([e.label for e in examples], minlength=len(label_names))
    splits = balanced_splits(examples, label_names, seed)
    log(f"{data_path}: " + ", ".join(f"{n:,} {name}" for name, n in zip(label_names, counts))
        + "; balanced and split: " + ", ".join(f"{len(splits[s]):,} {s}" for s in SPLIT_NAMES))
    return {name: encode_examples(tokenizer, splits[name], block_size, data_path)
            for name in SPLIT_NAMES}


def finetune_classifier(model_dir, data_path, out, config, log=print):
    """Fine-tune the GPT in `model_dir` on `data_path`, save the classifier in `out` (a new
    directory); returns {"history": per-epoch figures, "trainable", "total", "out"}.

    `out` is checked and reserved at once (before minutes of training, not after) and appears,
    whole, only at the end (gpt.safeguards.output_dir)."""
    with atomic_directory(out) as temporary:
        result = fine_tune_into(temporary, model_dir, data_path, config, log)
    log(f"saved the classifier in {out}")
    return {**result, "out": Path(out)}


def fine_tune_into(folder, model_dir, data_path, config, log):
    """finetune_classifier's work, writing the classifier into `folder`."""
    gpt, tokenizer = load_base_model(model_dir)
    splits = prepare_splits(data_path, tokenizer, gpt.config.block_size, config.seed, log=log)
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
