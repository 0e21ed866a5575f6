"""Instruction fine-tuning: teach a pretrained GPT to answer Alpaca-style prompts.

    records -> seeded 85/5/10 split -> token ids (too long for the context: dropped, counted)
    validation loss before
    for each epoch: shuffled batches of 8 -> loss on the unmasked targets -> backward
                    -> clip the gradient norm to 1.0 -> AdamW step        (constant lr)
    validation loss after; the training loss on response tokens
    greedy responses for the test split
    the model (LoRA merged into plain weights), tokenizer, responses (test_responses.json)
        and measurements -> the output directory (reserved at the start, filled and renamed into
        place at the end: gpt.safeguards.output_dir)

The data side (template, split, masks) is gpt/finetune/instructions.py. Losses are means over the
targets that count (not -100), weighted by token over a whole split, so a split's loss does
not depend on how it is cut into batches.
"""
import time
from dataclasses import dataclass

import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from ..data import batches
from ..safeguards.checks import integer, optional_integer
from ..safeguards.output_dir import atomic_directory
from ..seeds import stream
from ..tokenizers import encode_text, require_end_of_text, without_padding
from ..training_step import check_finite_loss, make_adamw, optimizer_step, quiet_divergence
from .instructions import (IGNORE_INDEX, collate, encode_and_drop_long, format_prompt,
                           read_records, split_records)
from .lora import add_lora, count_parameters, merge_lora
from .shared import (SPLITS, FinetuneConfig, load_base_model, require_files,
                     save_language_model)

RESPONSES_FILE = "test_responses.json"
METRICS_FILE = "instruct_metrics.json"
STOP_TEXT = "###"          # the next section header: the response is over


@dataclass
class InstructConfig(FinetuneConfig):
    """The settings of `python -m gpt finetune-instruct` (FinetuneConfig's, the book's 2
    epochs, and these): mask_prompt learns the response only (the prompt's targets are -100);
    subset trains on only the first N training examples that fit; max_new_tokens bounds each
    generated test response (the context may cut it sooner)."""

    mask_prompt: bool = False
    subset: int = None
    max_new_tokens: int = 50

    def __post_init__(self):
        super().__post_init__()
        self.max_new_tokens = integer(self.max_new_tokens, "--max-new-tokens", minimum=1)
        self.subset = optional_integer(self.subset, "--subset", minimum=1)


# ----- data ------------------------------------------------------------------------------------

def load_splits(path, tokenizer, block_size, seed):
    """({split: examples that fit}, {split: number dropped}). An empty split is an error."""
    records = read_records(path)
    splits, dropped = {}, {}
    for name, split in split_records(records, seed).items():
        if not split:
            raise ValueError(f"the {name} split is empty: {path} has only {len(records)} "
                             f"records")
        splits[name], dropped[name] = encode_and_drop_long(tokenizer, split, block_size)
        if not splits[name]:
            raise ValueError(f"the {name} split is empty: none of its {len(split)} examples "
                             f"fits the model's context of {block_size} tokens")
    return splits, dropped


# ----- training and evaluation -----------------------------------------------------------------

def train_epoch(model, optimizer, examples, pad_id, config, generator):
    """One pass over `examples` in shuffled batches; returns the token-weighted mean loss."""
    model.train()
    total, counted = 0.0, 0
    for rows in batches(len(examples), config.batch_size, generator):
        inputs, targets = collate([examples[i] for i in rows], pad_id, config.mask_prompt)
        _, loss = model(inputs, targets)
        loss.backward()
        optimizer_step(model, optimizer, loss.item(), config.grad_clip)
        n = int((targets != IGNORE_INDEX).sum())
        total, counted = total + loss.item() * n, counted + n
    return total / counted


def evaluate(model, examples, pad_id, batch_size, mask_prompt):
    """Mean loss per counted target over all `examples` (dropout off, no graph)."""
    total, counted = 0.0, 0
    with evaluating(model), tt.no_grad():
        for rows in batches(len(examples), batch_size):
            inputs, targets = collate([examples[i] for i in rows], pad_id, mask_prompt)
            n = int((targets != IGNORE_INDEX).sum())
            total, counted = total + model(inputs, targets)[1].item() * n, counted + n
    return total / counted


# ----- answering -------------------------------------------------------------------------------

def response_text(tokenizer, new_ids, eot):
    """The response in generated ids: up to the first end-of-text, cut at the first "###"
    (a model that has not learned to stop starts the next section), stripped."""
    new_ids = list(new_ids)
    if eot in new_ids:
        new_ids = new_ids[:new_ids.index(eot)]
    return text_of(tokenizer, new_ids).split(STOP_TEXT)[0].strip()


def text_of(tokenizer, ids):
    """Generated ids as text (an id of the embedding's padding, which has none, gives none)."""
    return tokenizer.decode(without_padding(tokenizer, ids))


def generate_response(model, tokenizer, record, max_new_tokens):
    """The model's greedy answer to `record` (its output is not shown to the model)."""
    return answer_prompt(model, tokenizer, encode_text(tokenizer, format_prompt(record)),
                         max_new_tokens)


def answer_prompt(model, tokenizer, prompt, max_new_tokens):
    """The model's greedy answer to the prompt ids `prompt` (a list), as text.

    Generation stops at end-of-text, at "###", after max_new_tokens, or when prompt and
    answer fill the context (beyond it the model would forget the start of the prompt)."""
    eot = require_end_of_text(tokenizer)
    room = model.config.block_size - len(prompt)
    if room < 1:
        raise ValueError(f"the prompt has {len(prompt)} tokens and leaves no room to answer in "
                         f"the model's context of {model.config.block_size}")
    new_ids = []

    def collect(token):                 # token (1,); True stops once the answer is complete
        new_ids.append(int(token[0]))
        return new_ids[-1] == eot or STOP_TEXT in text_of(tokenizer, new_ids)

    model.generate(np.array([prompt]), min(max_new_tokens, room), temperature=0,
                   eos_token_id=eot, on_token=collect)
    return response_text(tokenizer, new_ids, eot)


# ----- the run ---------------------------------------------------------------------------------

def finetune_instruct(config, log=print):
    """Run instruction fine-tuning as `config` says; returns a dict of what it measured.

    The output directory is checked and reserved at once (before minutes of training, not
    after) and appears, whole, only at the end (gpt.safeguards.output_dir)."""
    require_files(config)
    with atomic_directory(config.out) as temporary:
        result = fine_tune_into(temporary, config, log)
    log(f"wrote the model, {len(result['responses'])} test responses ({RESPONSES_FILE}) and "
        f"{METRICS_FILE} to {config.out}")
    return result


def fine_tune_into(folder, config, log):
    """finetune_instruct's work, writing its files into `folder`."""
    model, tokenizer = load_base_model(config.model)
    eot = require_end_of_text(tokenizer)
    splits, dropped = load_splits(config.data, tokenizer, model.config.block_size, config.seed)
    for name in SPLITS:
        log(f"{name}: {len(splits[name])} examples ({dropped[name]} dropped: longer than the "
            f"context of {model.config.block_size} tokens)")
    if config.subset is not None:
        splits["train"] = splits["train"][:config.subset]
        log(f"training on the first {len(splits['train'])} training examples only (--subset)")
    if config.lora_rank is not None:
        add_lora(model, config.lora_rank, config.lora_alpha, config.seed)   # the rest frozen
        trainable, total = count_parameters(model)
        log(f"LoRA rank {config.lora_rank}, alpha {config.lora_alpha}: {trainable:,} of "
            f"{total:,} parameters train ({100 * trainable / total:.1f}%)")
    optimizer = make_adamw(model, config.lr, config.weight_decay)

    def validation_loss():
        return check_finite_loss(evaluate(model, splits["validation"], eot, config.batch_size,
                                          config.mask_prompt), "the validation loss")

    result = {"examples": {name: len(splits[name]) for name in SPLITS}, "dropped": dropped,
              "val_loss_before": validation_loss(), "train_losses": [], "seconds": 0.0}
    log(f"validation loss before training: {result['val_loss_before']:.4f}")
    generator = stream("instruction batches", config.seed)
    with quiet_divergence():
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            train_loss = train_epoch(model, optimizer, splits["train"], eot, config, generator)
            result["seconds"] += time.perf_counter() - started
            result["train_losses"].append(train_loss)
            result["val_loss_after"] = validation_loss()       # the last epoch's is final
            log(f"epoch {epoch}/{config.epochs}: train loss {train_loss:.4f}, validation loss "
                f"{result['val_loss_after']:.4f} ({time.perf_counter() - started:.1f} s)")
        result["train_loss_response"] = check_finite_loss(
            evaluate(model, splits["train"], eot, config.batch_size, mask_prompt=True),
            "the training loss on response tokens")
    drop = 1 - result["val_loss_after"] / result["val_loss_before"]
    log(f"validation loss {result['val_loss_before']:.4f} -> {result['val_loss_after']:.4f} "
        f"({100 * drop:.1f}% lower); training loss on response tokens "
        f"{result['train_loss_response']:.4f}")
    if config.lora_rank is not None:
        merge_lora(model)              # plain weights again: a GPT-2 checkpoint anyone loads
    responses = [{**example.record,
                  "model_response": generate_response(model, tokenizer, example.record,
                                                      config.max_new_tokens)}
                 for example in splits["test"]]
    metrics = {"config": vars(config), **result}
    save_language_model(folder, model, tokenizer,
                        {RESPONSES_FILE: responses, METRICS_FILE: metrics})
    result["responses"] = responses
    return result

