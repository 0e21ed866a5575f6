"""Activation patching: which activations carry what the model needs to give an answer.

Take two prompts of the same length: a clean one, after which the model gives some answer
(" I" after "KING RICHARD I", to make "III"), and a corrupted one with a token or two changed
so that it no longer does ("KING EDWARD I" wants "V"). Run both, keeping the clean run's
activations. Then run the corrupted prompt again with one activation taken from the clean run
instead: a block's residual stream ("h.{i}.resid", or "embed" before block 0) or one head's
output ("h.{i}.attn.heads"), at chosen positions. Measured in log-probability of the clean
answer after the last position,

    restored = (patched - corrupted) / (clean - corrupted)

is 0 where the patched activation carries nothing the answer needs, and 1 where it carries
all of it: the residual stream at every position of any one depth carries everything, since
the blocks after it then compute exactly the clean run's numbers. Patching one position at a
time, depth by depth, shows where the information sits and when it moves to the last position
(Meng et al. 2022, "causal tracing"; Heimersheim and Nanda 2024 on reading such results).
"""
from dataclasses import dataclass

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.nn import evaluating

from ..config import check_idx
from ..safeguards.checks import index


@dataclass(frozen=True)
class Patch:
    """One activation to take from the clean run: by its hook name (gpt.model.Hooks), at
    some positions of the T axis (None: all), of one head (None: all; heads output only)."""

    name: str                   # "embed", "h.{i}.resid" or "h.{i}.attn.heads"
    positions: tuple = None     # e.g. (3, 4), each 0 to T - 1; None: every position
    head: int = None            # for "h.{i}.attn.heads": e.g. 2; None: every head


def patch_activation(clean, corrupted, positions, head=None):
    """The corrupted run's activation with the clean run's values put in at `positions`: a
    new array, neither argument changed.

    clean, corrupted: the same activation from the two runs, one shape: (B, T, C) for a
    residual stream or (B, H, T, D) for the heads' outputs (or any array whose positions are
    its second-to-last axis). positions: the positions to patch (ints on that axis, in any
    order; negative ones count from the end, as NumPy's indices do; none: nothing patched).
    head: None patches every head (the whole of each position); an int patches only that
    head (axis 1 of a (B, H, T, D) array) and leaves the other heads corrupted. Every row of
    the batch is patched alike; the dtype stays the corrupted array's.
    """
    # BEGIN EXERCISE patch_activation: copy corrupted, then set [..., positions, :] (or [:, head, positions, :]) from clean
    positions = list(positions)
    patched = corrupted.copy()
    if head is None:
        patched[..., positions, :] = clean[..., positions, :]
    else:
        patched[:, head, positions, :] = clean[:, head, positions, :]
    return patched
    # END EXERCISE patch_activation


def record_activations(model, idx, names):
    """{name: activation as an array} for the hook names `names`, from one run of the model
    on token ids idx (B, T); dropout off, no graph."""
    seen = {}

    def keeper(name):
        def keep(value):
            seen[name] = value.data
        return keep

    with evaluating(model), tt.no_grad(), model.hooks({name: keeper(name) for name in names}):
        model(idx)
    return seen


def patched_logits(model, idx, clean_activations, patches):
    """Logits (B, T, V), as an array, of the model on idx (B, T) with every Patch in `patches`
    applied in the one run: each activation named takes the values of clean_activations[name]
    (from record_activations on the clean prompt) where its patch says. Dropout off, no graph.
    """
    idx = check_idx(idx)
    by_name = {}
    for patch in patches:
        check_patch(patch, model.config, idx.shape[1])
        by_name.setdefault(patch.name, []).append(patch)

    missing = sorted(set(by_name) - set(clean_activations))
    if missing:
        raise KeyError(f"no clean activation named {missing[0]!r} to patch in (the clean run "
                       f"recorded {sorted(clean_activations)})")

    def patcher(name):
        def patch_in(value):
            patched = value.data
            if clean_activations[name].shape != patched.shape:
                raise ValueError(f"the clean run's {name} is {clean_activations[name].shape} "
                                 f"but this run's is {patched.shape}")
            for patch in by_name[name]:
                positions = range(idx.shape[1]) if patch.positions is None else patch.positions
                patched = patch_activation(clean_activations[name], patched, positions,
                                           patch.head)
            return tt.Tensor(patched)
        return patch_in

    with evaluating(model), tt.no_grad(), model.hooks({name: patcher(name) for name in by_name}):
        logits, _ = model(idx)
    return logits.data


def check_patch(patch, config, n_positions):
    """An error naming what in `patch` does not fit a model of `config` on a prompt of
    n_positions tokens (the name itself is checked by the model's hooks)."""
    if not isinstance(patch, Patch):
        raise TypeError(f"a patch must be a Patch(name, positions, head), got {patch!r}")
    if patch.positions is not None:
        if not isinstance(patch.positions, (tuple, list, range, np.ndarray)):
            raise TypeError(f"{patch}: positions must be a sequence of ints (such as (3,)), "
                            f"or None for every position")
        for position in patch.positions:
            index(position, "position", n_positions, owner="the prompt")
    if patch.head is not None:
        if not patch.name.endswith(".attn.heads"):
            raise ValueError(f"{patch}: only the heads' outputs (h.<i>.attn.heads) have a "
                             f"head to choose; give head=None")
        index(patch.head, "head", config.n_head)


def answer_log_prob(logits, answer):
    """log p(answer) after the last position, averaged over the batch: logits (B, T, V) and
    answer (B,) token ids. Worked out in float64."""
    last = tt.Tensor(logits[:, -1].astype(np.float64))                       # (B, V)
    log_probs = F.log_softmax(last, dim=-1).data
    return float(np.mean(log_probs[np.arange(len(answer)), answer]))


@dataclass(eq=False)
class PatchingResult:
    """log p(answer) after the clean prompt, the corrupted one, and the corrupted one with
    each patch; `restored` the fraction of the difference each patch brings back."""

    answer: np.ndarray      # (B,) the clean answer's token id in each row
    clean: float
    corrupted: float
    patched: np.ndarray     # (P,) one per patch

    @property
    def restored(self):
        """(P,): (patched - corrupted) / (clean - corrupted), 0 = nothing, 1 = everything."""
        return (self.patched - self.corrupted) / (self.clean - self.corrupted)


def activation_patching(model, clean_idx, corrupted_idx, patches, answer=None):
    """Run the clean and corrupted prompts (token ids (B, T), the same shape), then the
    corrupted one once per patch in `patches` (a Patch, or a list of Patches applied together)
    with that activation from the clean run: a PatchingResult.

    answer: the token id (an int, or one per row) whose log-probability after the last
    position is measured; None takes the clean run's most likely next token in each row.
    The prompts must differ in that log-probability: otherwise there is nothing to restore.
    """
    clean_idx, corrupted_idx = check_idx(clean_idx), check_idx(corrupted_idx)
    if clean_idx.shape != corrupted_idx.shape:
        raise ValueError(f"the clean prompt {clean_idx.shape} and the corrupted prompt "
                         f"{corrupted_idx.shape} must have the same shape: patching puts "
                         f"activations in at the same positions")
    groups = [[patch] if isinstance(patch, Patch) else patch for patch in patches]
    for group in groups:
        if not isinstance(group, (list, tuple)):
            raise TypeError(f"a patch must be a Patch(name, positions, head) or a list of "
                            f"them, got {group!r}")
        for patch in group:
            check_patch(patch, model.config, clean_idx.shape[1])
    names = sorted({patch.name for group in groups for patch in group})
    clean_activations = record_activations(model, clean_idx, names)
    clean_logits = patched_logits(model, clean_idx, {}, [])
    answer = _answer_ids(answer, clean_logits, model.config.vocab_size)
    clean = answer_log_prob(clean_logits, answer)
    corrupted = answer_log_prob(patched_logits(model, corrupted_idx, {}, []), answer)
    if clean == corrupted:
        raise ValueError(f"the clean and the corrupted prompt give the answer the same "
                         f"log-probability ({clean:.6g}): there is nothing to restore")
    patched = np.array([answer_log_prob(patched_logits(model, corrupted_idx,
                                                       clean_activations, group), answer)
                        for group in groups])
    return PatchingResult(answer, clean, corrupted, patched)


def _answer_ids(answer, clean_logits, vocab_size):
    """(B,) token ids: the clean run's most likely next token per row, or `answer` checked."""
    B = clean_logits.shape[0]
    if answer is None:
        return clean_logits[:, -1].argmax(axis=-1)
    ids = [answer] * B if np.ndim(answer) == 0 else list(answer)
    if len(ids) != B:
        raise ValueError(f"{len(ids)} answers for {B} prompts: give one token id, or one per "
                         f"prompt")
    return np.array([index(i, "token id", vocab_size, owner="the vocabulary") for i in ids])
