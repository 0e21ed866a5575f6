"""24 - Scaling laws on a laptop: how the loss falls as the model and the data grow.

Train a ladder of GPTs, each from scratch on the same characters of Shakespeare for the same
number of tokens, and measure each one's final validation loss. Bigger models reach lower
losses, and the way they do has a shape: a power law that flattens towards a floor,

    L(N) = a * N^-alpha + c        N: parameters, alpha: how fast, c: what no size removes

Kaplan et al. (2020) found alpha about 0.076 for GPTs of 10^3 to 10^9 parameters (their N
leaves out the embeddings), and about 0.095 for tokens of data. Here the same measurement
runs on two cores: a ladder of model sizes, the fit (gpt/inspection/scaling.py, least squares with
NumPy alone), a table and an SVG picture on log-log axes; then a ladder of data sizes (tokens
seen) at one fixed model size, with its own fit L(D) = b * D^-beta + c.

What counts as N: GPT.num_parameters(non_embedding=True), every parameter but the position
table. The token table stays in: its head is tied to it, so it is also the output layer. The
table also shows Kaplan's count (without the token table too), and section 6 fits both.

Learning rates: a small model wants larger steps than a large one. The peak rate of each size
comes from a sweep at both ends of the ladder (LR_ENDS and learning_rate below); each run warms
up over its first 5% of steps and decays (cosine) to a tenth of its peak by its last step, so
a shorter run (the data ladder) gets a schedule as long as itself, not a cut-off longer one.

What --full measured (2 shared cores, about 8 minutes): alpha = 0.18 with c = 1.28 over 4k to
800k parameters (0.053 for a pure power law, c = 0), and beta = 0.49 with c = 1.40 over 250k
to 4M tokens. Why not Kaplan's 0.076 and 0.095: their curves span six decades of N, ours 2.3,
where a, alpha and c trade off against each other; they fit no c (the floor here is most of the
loss, and with c = 0 the exponent is 0.053); their models train to convergence on data that
never repeats, ours all stop at 4M tokens (4 passes over 1M characters), so the largest are
held back by the budget, not their size; and the data ladder measures tokens seen by one model
as it learns (Kaplan's L(S), exponent about 0.76, heading to that model's own floor c), not the
size of a data set that a large model is early-stopped on. Losses are per character, not per
BPE token, and the smallest models spend a quarter of their parameters on the token table.

Run it:              python examples/24_scaling_laws.py          (a small ladder, about a minute)
The real ladder:     python examples/24_scaling_laws.py --full   (about 8 minutes)
Smaller and faster:  EXAMPLES_FAST=1 python examples/24_scaling_laws.py   (seconds; --full wins)
Pictures:            --out DIR (default runs/scaling-laws): model_size.svg and data_size.svg
In a debugger:       python -m pdb examples/24_scaling_laws.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/inspection/scaling.py (the fit) and gpt/inspection/pictures.py's log_log_svg (the picture), and
Kaplan et al., "Scaling Laws for Neural Language Models" (2020), sections 1 and 3; Hoffmann
et al. (2022, "Chinchilla") for how to split a compute budget between N and D.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# These models' matrices are small: one BLAS thread does them faster than two that wait for
# each other, and the times in the table then measure one core each. Set before NumPy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.data import get_batch, split_ids
from gpt.inspection.pictures import log_log_svg
from gpt.inspection.scaling import fit_power_law
from gpt.tokenizers import CharTokenizer
from gpt.training_step import make_adamw, optimizer_step
from fallback_text import SHAKESPEARE_OPENING
from tinytorch.memory import keep_freed_memory
from tinytorch.serialization import atomic_write

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true",
                    help="the real ladder: 6 sizes from 4k to 800k parameters, 4M tokens each")
parser.add_argument("--out", default=os.path.join("runs", "scaling-laws"),
                    help="folder for model_size.svg and data_size.svg (default: %(default)s)")
args = parser.parse_args()
MODE = "full" if args.full else "fast" if os.environ.get("EXAMPLES_FAST") == "1" else "default"

# (n_layer, n_head, n_embd) of each rung, smallest first; widths avoid B, T and V (all differ).
SHAPES = {"fast": [(1, 2, 8), (1, 2, 16), (2, 2, 24), (2, 4, 32), (2, 4, 40)],
          "default": [(1, 2, 16), (2, 2, 24), (2, 2, 32), (2, 3, 48), (3, 4, 64)],
          "full": [(1, 2, 16), (2, 2, 24), (2, 2, 32), (2, 3, 48), (3, 4, 64), (4, 4, 128)]}[MODE]
TOKENS = {"fast": 200_000, "default": 1_000_000, "full": 4_000_000}[MODE]   # per model: D
DATA_SHAPE = {"fast": (2, 4, 32), "default": (3, 4, 64), "full": (3, 4, 64)}[MODE]
# The data ladder: TOKENS / each. Outside fast mode its shortest run is 125k tokens or more:
# before that every model sits on the plateau of the first phase of learning (loss about 3),
# which no power of D describes.
DATA_FRACTIONS = {"fast": (8, 4, 2, 1), "default": (8, 4, 2, 1), "full": (16, 8, 4, 2, 1)}[MODE]
BATCH_SIZE, BLOCK_SIZE = 12, 80           # B, T
EVAL_BATCHES = 20 if MODE == "fast" else 100
WARMUP_FRACTION, WEIGHT_DECAY, GRAD_CLIP = 0.05, 0.1, 1.0
# Peak learning rates, (parameters, rate) at the two ends of the ladder, from a sweep in steps of
# 2x with 1M tokens each (final validation losses): 4,352 parameters: 0.008 2.310, 0.016 2.205,
# 0.032 2.234; 801,664: 0.002 1.958, 0.004 1.869, 0.008 1.868 (a tie: their geometric mean).
# Fast mode's runs stop after 208 steps, in the first phase of learning, where the loss still
# depends on luck: its own sweep's best rates (0.03 at the smallest, 0.003 at the largest) gave
# a ladder that jumps up and down, so it uses one modest rate for every size.
LR_ENDS = ((1_408, 0.004), (42_120, 0.004)) if MODE == "fast" else ((4_352, 0.016),
                                                                     (801_664, 0.0057))
SEED = 0
ROOT = Path(__file__).resolve().parent.parent
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
KAPLAN_ALPHA_N, KAPLAN_ALPHA_D = 0.076, 0.095


def learning_rate(parameters):
    """The peak learning rate for a model of `parameters` (N): a power of N through the best
    rates of the sweep at the two ends, LR_ENDS (a straight line on log-log axes; here about
    0.016 * (N / 4352)^-0.2), held at the ends. Checked in between: at 59,760 parameters 0.008
    and 0.016 tie (2.008, 1.998), and this gives 0.0095."""
    (n_small, lr_small), (n_large, lr_large) = LR_ENDS
    where = np.clip(np.log(parameters / n_small) / np.log(n_large / n_small), 0.0, 1.0)
    return float(lr_small * (lr_large / lr_small) ** where)


@dataclass(eq=False)           # eq=False: runs are compared by what they measured, not ==
class Run:
    """One rung: a model trained from scratch and its final validation loss."""

    shape: tuple            # (n_layer, n_head, n_embd)
    parameters: int         # N: GPT.num_parameters(non_embedding=True)
    kaplan_parameters: int  # Kaplan's N: without the token table either
    tokens: int             # D: the training tokens it saw (steps * B * T)
    lr: float
    batch_losses: np.ndarray    # (EVAL_BATCHES,): the loss on each validation batch
    seconds: float

    @property
    def loss(self):
        return float(self.batch_losses.mean())

    @property
    def standard_error(self):
        """How far another draw of validation batches could move `loss`, typically."""
        return standard_error(self.batch_losses)


def standard_error(values):
    return float(values.std(ddof=1) / np.sqrt(len(values)))


keep_freed_memory()        # reuse each step's memory in the next, as `python -m gpt train` does
try:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
except OSError as error:
    sys.exit(f"error: cannot make the picture folder {args.out}: {error.strerror}")

# ---- 1. The text, as one id per character -------------------------------------------------------
if SHAKESPEARE.is_file():
    text = SHAKESPEARE.read_text(encoding="utf-8")
    print(f"== 1. the text: {len(text):,} characters of {SHAKESPEARE.name} ({MODE} ladder) ==")
else:
    text = SHAKESPEARE_OPENING
    print(f"== 1. the text: {len(text):,} characters of examples/fallback_text.py "
          f"({MODE} ladder) ==")
    print(f"({SHAKESPEARE} is missing. So little text is learnt by heart within a few "
          f"hundred steps: bigger models then do worse, and no power law fits.)")
tokenizer = CharTokenizer.from_text(text)
ids = np.array(tokenizer.encode(text), dtype=np.int64)
train_ids, val_ids = split_ids(ids)
print(f"vocabulary: {tokenizer.vocab_size} characters; train: {len(train_ids):,} ids, "
      f"validation: {len(val_ids):,} ids")
print(f"every model sees {TOKENS:,} training tokens: {TOKENS / len(train_ids):.2f} passes "
      f"over the training text")

# ---- 2. The yardstick: the same validation batches for every model -------------------------
eval_generator = np.random.default_rng(SEED + 1)
eval_set = [get_batch(val_ids, BLOCK_SIZE, BATCH_SIZE, eval_generator) for _ in range(EVAL_BATCHES)]
print(f"\n== 2. the yardstick: {EVAL_BATCHES} validation batches of {BATCH_SIZE} x "
      f"{BLOCK_SIZE} characters, the same for every model ==")
print(f"inputs {eval_set[0][0].shape}, targets {eval_set[0][1].shape}")
print(f"a model that knows nothing scores ln({tokenizer.vocab_size}) = "
      f"{np.log(tokenizer.vocab_size):.3f}")


def validation_losses(model):
    """`model`'s loss on each validation batch, (EVAL_BATCHES,)."""
    with tt.nn.evaluating(model), tt.no_grad():
        return np.array([model(x, y)[1].item() for x, y in eval_set])


def make_model(shape):
    n_layer, n_head, n_embd = shape
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=BLOCK_SIZE, n_layer=n_layer,
                       n_head=n_head, n_embd=n_embd)
    return GPT(config, seed=SEED)


def non_embedding_counts(model):
    """(N as GPT.num_parameters counts it, Kaplan's N without the token table too)."""
    parameters = model.num_parameters(non_embedding=True)
    return parameters, parameters - model.transformer.wte.weight.numel()


def tokens_seen(tokens):
    """The tokens a run of `tokens` really trains on: whole steps of B x T."""
    return tokens // (BATCH_SIZE * BLOCK_SIZE) * BATCH_SIZE * BLOCK_SIZE


def train(shape, tokens):
    """A fresh model of `shape` trained on `tokens` training tokens with its size's learning
    rate; returns its Run. Every run draws the same windows in the same order (one seed), so
    sizes differ by the model alone, not by luck of the batches."""
    model = make_model(shape)
    parameters, kaplan_parameters = non_embedding_counts(model)
    peak_lr = learning_rate(parameters)
    optimizer = make_adamw(model, peak_lr, WEIGHT_DECAY, betas=(0.9, 0.99))
    steps = tokens // (BATCH_SIZE * BLOCK_SIZE)
    warmup = max(1, round(WARMUP_FRACTION * steps))
    batch_generator = np.random.default_rng(SEED)
    start = time.perf_counter()
    for step in range(steps):
        lr = tt.optim.warmup_cosine_lr(step, peak_lr, peak_lr / 10, warmup, steps - 1)
        tt.optim.set_lr(optimizer, lr)
        x, y = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, batch_generator)     # (B, T)
        # breakpoint: `shape`, `parameters`, `steps`, `lr`, `x.shape` (B, T), then `n` and
        #   `logits.shape` (B, T, V), `loss`
        logits, loss = model(x, y)
        loss.backward()
        optimizer_step(model, optimizer, loss.item(), GRAD_CLIP)
    seconds = time.perf_counter() - start
    return Run(shape, parameters, kaplan_parameters, tokens_seen(tokens), peak_lr,
               validation_losses(model), seconds)


def print_table(runs):
    print(f"{'layers':>6} {'heads':>5} {'width':>5} {'parameters N':>12} {'Kaplan N':>9} "
          f"{'tokens D':>10} {'peak lr':>8} {'val loss':>9} {'+-':>6} {'time':>7}")
    for run in runs:
        n_layer, n_head, n_embd = run.shape
        print(f"{n_layer:>6} {n_head:>5} {n_embd:>5} {run.parameters:>12,} "
              f"{run.kaplan_parameters:>9,} {run.tokens:>10,} {run.lr:>8.4f} {run.loss:>9.4f} "
              f"{run.standard_error:>6.4f} {run.seconds:>6.1f}s")


def print_noise(runs):
    """Is the yardstick fine enough? Compare its noise with the gaps it has to resolve. Every
    model is measured on the same batches, and a batch that is hard for one is hard for all:
    the noise of a difference is that of the per-batch differences, smaller than either's."""
    gaps = [abs(b.loss - a.loss) for a, b in zip(runs, runs[1:])]
    gap_noise = max(standard_error(b.batch_losses - a.batch_losses) for a, b in zip(runs, runs[1:]))
    print(f"noise: standard errors up to {max(run.standard_error for run in runs):.4f} (of one "
          f"loss), up to {gap_noise:.4f} between neighbours (the same batches); the smallest gap, "
          f"{min(gaps):.4f}, is {min(gaps) / gap_noise:.1f} of those")


def fit_and_draw(sizes, runs, name, letters, what, filename):
    """Fit L(name) = a * name^-alpha + c to the runs' losses, print it with `letters` for a and
    alpha, and draw it; returns the fit, or None when the points admit no power law (the reason
    is printed)."""
    losses = [run.loss for run in runs]
    try:
        # breakpoint: `sizes`, `losses`, then `n` and `fit.alpha`, `fit.residuals`
        fit = fit_power_law(sizes, losses)
    except ValueError as error:
        fit = None
        print(f"no power law: {error}")
    else:
        scale, exponent = letters
        print(f"fit: {fit.formula(name)}  ({scale} = {fit.a:.4g}, {exponent} = {fit.alpha:.4f}, "
              f"c = {fit.c:.4f})")
        print("residuals (measured - fitted): "
              + " ".join(f"{value:+.4f}" for value in fit.residuals)
              + f"; rms {fit.rms_residual:.4f}")
        if fit.c == 0.0:
            print("(c is at its bound 0: these points do not yet bend towards a floor)")
    svg = log_log_svg(sizes, losses, curve=fit, title=f"final validation loss against {what}",
                      x_label=what, y_label="validation loss (nats per character)",
                      point_label=f"one run per {name}",
                      curve_label=fit.formula(name) if fit else "no power law fits")
    path = out_dir / filename
    with atomic_write(path) as f:
        f.write(svg.encode("utf-8"))
    print(f"picture: {path}")
    return fit


# ---- 3. The model ladder -----------------------------------------------------------------------
print(f"\n== 3. the model ladder: {len(SHAPES)} sizes, {TOKENS:,} tokens each ==")
model_runs = []
for rung, shape in enumerate(SHAPES, start=1):
    run = train(shape, TOKENS)
    model_runs.append(run)
    print(f"size {rung}/{len(SHAPES)}: {run.parameters:,} parameters, peak lr {run.lr:.4f}: "
          f"validation loss {run.loss:.4f} in {run.seconds:.1f} s", flush=True)

# ---- 4. The table and the fit L(N) -------------------------------------------------------------
print("\n== 4. loss against model size: L(N) = a * N^-alpha + c ==")
print_table(model_runs)
print_noise(model_runs)
model_fit = fit_and_draw([run.parameters for run in model_runs], model_runs, "N",
                         ("a", "alpha"), "non-embedding parameters N", "model_size.svg")

# ---- 5. The data ladder ------------------------------------------------------------------------
data_tokens = [TOKENS // fraction for fraction in DATA_FRACTIONS]
print(f"\n== 5. the data ladder: one size {DATA_SHAPE}, {len(data_tokens)} amounts of data: "
      f"L(D) = b * D^-beta + c ==")
data_runs = []
for rung, tokens in enumerate(data_tokens, start=1):
    # The longest rung is the model ladder's run of this size: same seeds, same numbers.
    reused = next((run for run in model_runs
                   if run.shape == DATA_SHAPE and run.tokens == tokens_seen(tokens)), None)
    run = reused or train(DATA_SHAPE, tokens)
    data_runs.append(run)
    print(f"data {rung}/{len(data_tokens)}: {run.tokens:,} tokens: validation loss "
          f"{run.loss:.4f} in {run.seconds:.1f} s" + (" (the run of section 3)" if reused else ""),
          flush=True)
print_table(data_runs)
print_noise(data_runs)
data_fit = fit_and_draw([run.tokens for run in data_runs], data_runs, "D", ("b", "beta"),
                        "training tokens D", "data_size.svg")

# ---- 6. Against the published exponents --------------------------------------------------------
print("\n== 6. against Kaplan et al. 2020 ==")


def slope(sizes, runs):
    """alpha of a pure power law L = a * N^-alpha (Kaplan's form, no c): minus the slope of a
    straight line through (log N, log L)."""
    return -np.polyfit(np.log(sizes), np.log([run.loss for run in runs]), 1)[0]


for label, fit, sizes, runs, published in (
        ("alpha_N", model_fit, [run.parameters for run in model_runs], model_runs, KAPLAN_ALPHA_N),
        ("alpha_D", data_fit, [run.tokens for run in data_runs], data_runs, KAPLAN_ALPHA_D)):
    with_c = f"{fit.alpha:.3f} with c = {fit.c:.3f}" if fit else "no fit"
    print(f"{label}: here {with_c}; {slope(sizes, runs):.3f} as a pure power law (c = 0); "
          f"Kaplan et al. {published}")
try:
    kaplan_fit = fit_power_law([run.kaplan_parameters for run in model_runs],
                               [run.loss for run in model_runs])
    print(f"alpha_N with Kaplan's count (no token table either): {kaplan_fit.alpha:.3f} "
          f"with c = {kaplan_fit.c:.3f}; "
          f"{slope([run.kaplan_parameters for run in model_runs], model_runs):.3f} with c = 0")
except ValueError as error:
    print(f"alpha_N with Kaplan's count: no power law: {error}")
unique_runs = {id(run): run for run in model_runs + data_runs}.values()     # one reused
print(f"total time: {sum(run.seconds for run in unique_runs):.0f} s of training")
