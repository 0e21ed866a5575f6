"""Preference tuning with DPO: teach an instruction-tuned GPT to prefer one answer to another.

    records -> seeded 85/5/10 split -> pairs (prompts cut from the left to fit; counted)
    the reference: the model as loaded scores every response once, under no_grad
    greedy answers to the test prompts, before
    for each epoch: shuffled batches of pairs -> the policy's log-probabilities of the chosen
                    and the rejected responses (one forward pass) -> dpo_loss -> backward
                    -> clip the gradient norm -> AdamW step
                    the training and validation loss, reward margin and preference accuracy
    the test split's preference accuracy and mean reward margin; greedy answers, after
    the policy (LoRA merged into plain weights), tokenizer, answers (test_responses.json) and
    measurements (preference_metrics.json) -> the output directory (reserved at the start,
    filled and renamed into place at the end: gpt.safeguards.output_dir)

Direct Preference Optimization (Rafailov et al., 2023) needs no reward model and no sampling:
for a prompt x, a chosen answer y_w and a rejected one y_l, the policy pi learns to raise
beta * log(pi(y_w|x) / pi_ref(y_w|x)), the chosen answer's implicit reward, above the rejected
one's (tinytorch.functional.dpo_loss). The reference pi_ref is the model the run starts from,
frozen: its log-probabilities are computed once per pair before the first step and kept as two
numbers per pair, so it is never copied, never trained, and the optimizer never sees it.
Dropout stays off (as trl's DPOTrainer turns it off): with it, the policy would differ from the
reference at the first step, and the rewards would measure the dropout masks.

The data side (records, pairs, the left cut, batches) is gpt/finetune/preferences.py.
"""
import time
from dataclasses import dataclass

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.nn import evaluating

from ..data import batches
from ..model import functional_for
from ..safeguards.checks import integer, number
from ..safeguards.output_dir import atomic_directory
from ..seeds import stream
from ..tokenizers import require_end_of_text
from ..training_step import check_finite_loss, make_adamw, optimizer_step, quiet_divergence
from .instructions import read_records, split_records
from .lora import add_lora, count_parameters, merge_lora
from .preferences import FIELDS, WHY_END_OF_TEXT, collate_pairs, encode_pairs
from .shared import (SPLITS, FinetuneConfig, load_base_model, require_files,
                     save_language_model)
from .train_instructions import answer_prompt

RESPONSES_FILE = "test_responses.json"
METRICS_FILE = "preference_metrics.json"


@dataclass
class PreferenceConfig(FinetuneConfig):
    """The settings of `python -m gpt finetune-preference`: FinetuneConfig's, and beta, how
    far the policy may move from the reference (DPO's 0.1); max_new_tokens bounds each greedy
    answer to a test prompt (the context may cut it sooner).

    The defaults fit gpt2-tiny after instruction tuning: the book's setting (lr 5e-6, one
    epoch) is for GPT-2 355M, and moves a model of 140k parameters too little; at 2e-4 three
    epochs take its test preference accuracy from 0 to 0.86-0.94 (seeds 1-4 and 123, each
    instruction-tuned with its own seed) with mean test margins of 2.2-3.0; at 1e-3 the
    margins run on past 5 while the answers collapse into repetition."""

    beta: float = 0.1
    epochs: int = 3
    lr: float = 2e-4
    max_new_tokens: int = 50

    def __post_init__(self):
        super().__post_init__()
        self.beta = number(self.beta, "--beta", "(0, inf)")
        self.max_new_tokens = integer(self.max_new_tokens, "--max-new-tokens", minimum=1)


# ----- data ------------------------------------------------------------------------------------

def load_pairs(path, tokenizer, block_size, seed):
    """({split: pairs that fit}, {split: PairCounts}). An empty split is an error."""
    records = read_records(path, FIELDS)
    entries = split_records(list(range(len(records))), seed, "preference split")
    splits, counts = {}, {}
    for name in SPLITS:
        if not entries[name]:
            raise ValueError(f"the {name} split is empty: {path} has only {len(records)} "
                             f"records")
        splits[name], counts[name] = encode_pairs(
            tokenizer, [records[i] for i in entries[name]], block_size, entries[name], path)
        if not splits[name]:
            raise ValueError(f"the {name} split is empty: none of its {len(entries[name])} "
                             f"pairs fits the model's context of {block_size} tokens")
    return splits, counts


# ----- scoring ---------------------------------------------------------------------------------

def pair_log_probs(model, pairs, pad_id, functional):
    """The model's log-probabilities of the chosen and the rejected responses of `pairs`
    given their prompts: a tensor each, (B,), from one forward pass over both."""
    inputs, targets = collate_pairs(pairs, pad_id)                # (2B, T)
    logits, _ = model(inputs)                                      # (2B, T, V)
    log_probs = functional.sequence_log_prob(logits, targets)     # (2B,)
    return log_probs[:len(pairs)], log_probs[len(pairs):]


def score_pairs(model, pairs, pad_id, batch_size):
    """(chosen, rejected) log-probabilities (N,) of every pair, without a graph or dropout:
    the reference's, once before training, and the policy's after each epoch."""
    functional = functional_for(model.config)
    chosen, rejected = [], []
    with evaluating(model), tt.no_grad():
        for rows in batches(len(pairs), batch_size):
            batch_chosen, batch_rejected = pair_log_probs(model, [pairs[i] for i in rows],
                                                          pad_id, functional)
            chosen.append(batch_chosen.data)
            rejected.append(batch_rejected.data)
    return np.concatenate(chosen), np.concatenate(rejected)


def preference_figures(policy, reference, beta):
    """The DPO loss (mean), the mean implicit rewards of the chosen and the rejected responses,
    the mean reward margin and the preference accuracy (the fraction of pairs whose chosen
    response has the strictly higher reward; a tie is no preference) of scored pairs:
    policy and reference each a (chosen (N,), rejected (N,)) pair of arrays."""
    logps = [tt.tensor(values) for values in (*policy, *reference)]
    losses = F.dpo_loss(*logps, beta=beta, reduction="none").data
    chosen_rewards, rejected_rewards = (r.data for r in F.dpo_rewards(*logps, beta))
    margins = chosen_rewards - rejected_rewards
    return {"loss": float(np.mean(losses)), "chosen_reward": float(np.mean(chosen_rewards)),
            "rejected_reward": float(np.mean(rejected_rewards)),
            "margin": float(np.mean(margins)), "accuracy": float(np.mean(margins > 0))}


# ----- training --------------------------------------------------------------------------------

def train_epoch(model, optimizer, pairs, reference, pad_id, config, generator):
    """One pass over `pairs` in shuffled batches, one AdamW step each; returns the figures of
    the batches as they were trained (preference_figures of their log-probabilities)."""
    functional = functional_for(model.config)
    reference_chosen, reference_rejected = reference
    chosen, rejected, order = [], [], []
    for rows in batches(len(pairs), config.batch_size, generator):
        policy_chosen, policy_rejected = pair_log_probs(model, [pairs[i] for i in rows],
                                                        pad_id, functional)
        loss = functional.dpo_loss(policy_chosen, policy_rejected, reference_chosen[rows],
                                   reference_rejected[rows], beta=config.beta)
        loss.backward()
        optimizer_step(model, optimizer, loss.item(), config.grad_clip)
        chosen.append(policy_chosen.data)
        rejected.append(policy_rejected.data)
        order.append(rows)
    order = np.concatenate(order)
    return preference_figures((np.concatenate(chosen), np.concatenate(rejected)),
                              (reference_chosen[order], reference_rejected[order]), config.beta)


def figures_text(figures):
    """'loss 0.2422 rewards -0.21/-3.11 margin 2.90 acc 0.87': the mean rewards of the chosen
    and the rejected responses, and the mean of their difference."""
    return (f"loss {figures['loss']:.4f} rewards {figures['chosen_reward']:.2f}/"
            f"{figures['rejected_reward']:.2f} margin {figures['margin']:.2f} "
            f"acc {figures['accuracy']:.2f}")


def answer_pairs(model, tokenizer, pairs, max_new_tokens):
    """The model's greedy answer to each pair's prompt (as scored: cut if it was)."""
    with evaluating(model):
        return [answer_prompt(model, tokenizer, pair.prompt, max_new_tokens) for pair in pairs]


# ----- the run ---------------------------------------------------------------------------------

def finetune_preference(config, log=print):
    """Run DPO as `config` says; returns a dict of what it measured. Its last line is the
    test split's preference accuracy and mean reward margin.

    The output directory is checked and reserved at once (before minutes of training, not
    after) and appears, whole, only at the end (gpt.safeguards.output_dir)."""
    require_files(config)
    with atomic_directory(config.out) as temporary:
        result = fine_tune_into(temporary, config, log)
    log(f"wrote the policy, its answers to {len(result['responses'])} test prompts "
        f"({RESPONSES_FILE}) and {METRICS_FILE} to {config.out}")
    log(f"test preference accuracy {result['test']['accuracy']:.2f}, mean test reward margin "
        f"{result['test']['margin']:.2f}")
    return result


def fine_tune_into(folder, config, log):
    """finetune_preference's work, writing its files into `folder`."""
    tt.memory.keep_freed_memory()      # reuse freed pages: no page faults every step
    model, tokenizer = load_base_model(config.model)
    model.eval()                       # dropout off for good: see the module's docstring
    eot = require_end_of_text(tokenizer, WHY_END_OF_TEXT)
    block_size = model.config.block_size
    splits, counts = load_pairs(config.data, tokenizer, block_size, config.seed)
    for name in SPLITS:
        log(f"{name}: {counts[name].describe(block_size)}")
    reference = {name: score_pairs(model, splits[name], eot, config.batch_size)
                 for name in SPLITS}
    answers_before = answer_pairs(model, tokenizer, splits["test"], config.max_new_tokens)
    if config.lora_rank is not None:
        add_lora(model, config.lora_rank, config.lora_alpha, config.seed)   # the rest frozen
        trainable, total = count_parameters(model)
        log(f"LoRA rank {config.lora_rank}, alpha {config.lora_alpha}: {trainable:,} of "
            f"{total:,} parameters train ({100 * trainable / total:.1f}%)")
    optimizer = make_adamw(model, config.lr, config.weight_decay)

    def figures(name):
        policy = score_pairs(model, splits[name], eot, config.batch_size)
        found = preference_figures(policy, reference[name], config.beta)
        check_finite_loss(found["loss"], f"the {name} loss")
        return found

    history = [{"epoch": 0, "validation": figures("validation")}]
    log(f"epoch 0/{config.epochs} | validation {figures_text(history[0]['validation'])} "
        f"(the policy is the reference: loss log 2, every margin 0)")
    generator = stream("preference batches", config.seed)
    with quiet_divergence():
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            train = train_epoch(model, optimizer, splits["train"], reference["train"], eot,
                                config, generator)
            seconds = time.perf_counter() - started
            history.append({"epoch": epoch, "train": train, "validation": figures("validation"),
                            "seconds": seconds})
            log(f"epoch {epoch}/{config.epochs} | train {figures_text(train)} | validation "
                f"{figures_text(history[-1]['validation'])} | {seconds:.1f} s")
        test = figures("test")
    if config.lora_rank is not None:
        merge_lora(model)              # plain weights again: a GPT-2 checkpoint anyone loads
    answers_after = answer_pairs(model, tokenizer, splits["test"], config.max_new_tokens)
    responses = [{**pair.record, "prompt_cut": pair.cut, "response_before": before,
                  "response_after": after}
                 for pair, before, after in zip(splits["test"], answers_before, answers_after)]
    result = {"pairs": {name: vars(counts[name]) for name in SPLITS}, "history": history,
              "test": test}
    metrics = {"config": vars(config), **result}
    save_language_model(folder, model, tokenizer,
                        {RESPONSES_FILE: responses, METRICS_FILE: metrics})
    result["responses"] = responses
    return result

