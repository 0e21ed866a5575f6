"""Training a GPT from scratch: the loop, evaluation, logging, checkpoints and exact resume.

One iteration:
    lr = warmup then cosine decay (tinytorch.optim.warmup_cosine_lr)
    grad_accum times:  x, y = random windows;  loss(x, y) / grad_accum  -> backward
    clip the gradient norm to 1.0;  AdamW step (weight decay on 2-D weights only)

An output directory is a complete checkpoint: the model in Hugging Face's layout
(config.json + model.safetensors), the tokenizer (see gpt.tokenizers), train_state.npz (the
optimizer's moments, the iteration, the random generators' states, both configs),
metrics.jsonl (one JSON object per logged line, gpt.safeguards.metrics) and loss.svg (the curves, for a
browser). `--resume` continues from it exactly: the same batches, the same dropout masks, the
same losses.

No kill, full disk or second Ctrl-C loses a run:
- a checkpoint is saved at iteration 0, after every evaluation, at the end, and when the run
  is stopped; gpt.safeguards.run_directory replaces its files so that the next start can always finish
  or undo a save that was cut short, and locks the directory against a second run;
- Ctrl-C and SIGTERM (gpt.safeguards.stop_signals) stop the run where that is safe: the training step
  under way finishes, an evaluation or the sample is abandoned, a save always completes; then
  the latest completed iteration is saved and the last line says which.
"""
import dataclasses
import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

import tinytorch as tt
from tinytorch import optim
from tinytorch.nn import evaluating
from tinytorch.serialization import atomic_write

from .safeguards.checks import boolean, integer, number, optional_integer
from .config import GPTConfig, architecture_parts
from .data import default_corpus, encode_corpus, get_batch, make_tokenizer, read_text, split_ids
from .safeguards.memory import check_training_fits
from .safeguards.metrics import MetricsLog
from .model import GPT
from .seeds import stream
from .inspection.pictures import loss_curve_svg
from .safeguards.run_directory import RunDirectory
from .safeguards.stop_signals import Stopped, StopSignals
from .tokenizers import (BPE_FILE, CHARS_FILE, load_tokenizer, save_tokenizer, start_ids,
                         token_ids_config)
from .training_step import check_finite_loss, make_adamw, optimizer_step, quiet_divergence

STATE_FILE = "train_state.npz"
METRICS_FILE = "metrics.jsonl"
SVG_FILE = "loss.svg"
# Every file a checkpoint can hold; the tokenizer is one of gpt.tokenizers' forms (GPT-2's
# pattern gives tokenizer.bpe and GPT-2's vocab.json + merges.txt).
CHECKPOINT_FILES = ("config.json", "model.safetensors", CHARS_FILE, BPE_FILE, "vocab.json",
                    "merges.txt", STATE_FILE, SVG_FILE)
# The settings that a run's memory grows with, which the error for too large a run suggests
MEMORY_FLAGS = ("batch_size", "block_size", "n_embd", "n_layer")


def flag_name(name):
    """A TrainConfig field's command-line flag: n_layer -> --n-layer."""
    return "--" + name.replace("_", "-")


@dataclass
class TrainConfig:
    """Every setting of a training run. The defaults are nanoGPT's CPU configuration for
    character-level Shakespeare (4 layers, 4 heads, 128 wide, 64 tokens of context, batch 12,
    2000 iterations, lr 1e-3 decayed to 1e-4 after 100 warmup iterations, beta2 0.99, weight
    decay 0.1, no dropout). A shorter run warms up for a twentieth of its iterations instead
    (`warmup`), so that its learning rate still reaches --lr."""

    data: str = None              # a UTF-8 text file; None: Python's help topics
    out: str = None               # output directory; None: a new runs/<timestamp>
    char: bool = False            # one token per character instead of BPE
    vocab_size: int = 512         # BPE vocabulary size (ignored with char)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    arch: str = "gpt2"            # the parts: gpt2 or llama (gpt.config.ARCHITECTURES)
    norm: str = None              # the part flags, over the arch's own (None: the arch's)
    positions: str = None
    mlp: str = None
    n_kv_head: int = None
    tie_embeddings: bool = None
    batch_size: int = 12
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = None      # linear warmup; None: 100, or a twentieth of a shorter run
    lr_decay_iters: int = None    # where the cosine reaches min_lr; None: max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    grad_accum: int = 1
    dropout: float = 0.0
    eval_interval: int = 250
    eval_iters: int = 20
    final_eval_iters: int = 400   # validation batches for the final figure (at least 400)
    log_interval: int = 10
    sample_tokens: int = 200      # length of the sample printed at the end (0: none)
    seed: int = 1337

    def __post_init__(self):
        """Every setting checked now, before any data is read or tokenizer trained, and named
        as its command-line flag: counts are integers, rates are numbers (never nan), and a
        run too large for this machine's memory is refused, saying what to lower."""
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters",
                     "grad_accum", "eval_interval", "eval_iters", "log_interval",
                     "final_eval_iters"):
            setattr(self, name, integer(getattr(self, name), flag_name(name), minimum=1))
        for name in ("sample_tokens", "seed"):
            setattr(self, name, integer(getattr(self, name), flag_name(name), minimum=0))
        self.warmup_iters = optional_integer(self.warmup_iters, "--warmup-iters", 0)
        self.lr_decay_iters = optional_integer(self.lr_decay_iters, "--lr-decay-iters", 1)
        self.char = boolean(self.char, "--char")
        self.vocab_size = integer(self.vocab_size, "--vocab-size", minimum=1)
        if not self.char and self.vocab_size < 257:
            raise ValueError(f"--vocab-size must be at least 257 (256 bytes + <|endoftext|>), "
                             f"got {self.vocab_size}")
        self.lr = number(self.lr, "--lr", "(0, inf)")
        self.min_lr = number(self.min_lr, "--min-lr", f"[0, {self.lr}]")
        self.weight_decay = number(self.weight_decay, "--weight-decay", "[0, inf)")
        self.beta1, self.beta2 = (number(getattr(self, name), name, "[0, 1)")
                                  for name in ("beta1", "beta2"))
        self.grad_clip = number(self.grad_clip, "grad_clip", "(0, inf]")    # inf: no clipping
        self.dropout = number(self.dropout, "--dropout", "[0, 1)")
        self.final_eval_iters = max(self.final_eval_iters, 400)
        self.model_config(vocab_size=257)      # the model's own rules (heads divide n_embd)
        # The vocabulary is not known before the tokenizer is trained: leaving it out here
        # makes the figure a lower bound (GPT() checks the whole model's weights again).
        check_training_fits({**dataclasses.asdict(self), "vocab_size": 0},
                            {name: (flag_name(name), getattr(TrainConfig, name))
                             for name in MEMORY_FLAGS})

    @property
    def warmup(self):
        """Iterations of warmup: --warmup-iters if given, else nanoGPT's 100, or 1/20 of a run
        shorter than 2,000 iterations (100 of 50 would end the run before the peak)."""
        if self.warmup_iters is not None:
            return self.warmup_iters
        return min(100, self.max_iters // 20)

    @property
    def decay_iters(self):
        return self.max_iters if self.lr_decay_iters is None else self.lr_decay_iters

    def schedule_warnings(self):
        """Lines to log about a learning-rate schedule that cannot do what it says."""
        if self.warmup >= self.max_iters:
            return [f"warning: --warmup-iters {self.warmup} is not below --max-iters "
                    f"{self.max_iters}: the learning rate never reaches --lr {self.lr:g} "
                    f"(at most {learning_rate(self, self.max_iters - 1):.2e})"]
        return []

    def model_config(self, vocab_size):
        parts = architecture_parts(self.arch, self.n_head, norm=self.norm,
                                   positions=self.positions, mlp=self.mlp,
                                   n_kv_head=self.n_kv_head, tie_embeddings=self.tie_embeddings)
        try:
            return GPTConfig(vocab_size=vocab_size, block_size=self.block_size,
                             n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd,
                             dropout=self.dropout, **parts)
        except ValueError as error:          # named as flags: GPTConfig.n_kv_head -> --n-kv-head
            flags = re.sub(r"GPTConfig\.(\w+)", lambda m: "--" + m[1].replace("_", "-"),
                           str(error))
            raise ValueError(flags) from None


# ----- the pieces of a run -------------------------------------------------------------------

def make_optimizer(model, config):
    """AdamW with `config`'s lr and betas, weight decay on the 2-D weights only (make_adamw)."""
    return make_adamw(model, config.lr, config.weight_decay, betas=(config.beta1, config.beta2))


def learning_rate(config, it):
    return optim.warmup_cosine_lr(it, config.lr, config.min_lr, config.warmup,
                                  config.decay_iters)


def train_step(model, optimizer, train_ids, config, batch_generator):
    """One iteration (forward, backward, clip, AdamW) over grad_accum micro-batches; returns
    the mean loss. This is the step the benchmark times."""
    total = 0.0
    for _ in range(config.grad_accum):
        x, y = get_batch(train_ids, config.block_size, config.batch_size, batch_generator)
        _, loss = model(x, y)
        (loss * (1.0 / config.grad_accum)).backward()      # gradients add up over micro-batches
        total += loss.item()
    return optimizer_step(model, optimizer, total / config.grad_accum, config.grad_clip)


def estimate_loss(model, ids, config, n_batches, generator, on_batch=None):
    """Mean loss over `n_batches` batches drawn from `generator` (the caller gives each
    evaluation a generator seeded the same way, so every evaluation of a run sees the same
    batches); dropout off, no graph. `on_batch(done)`, if given, is called before each batch
    with the number done so far (to show progress; it may raise to abandon the evaluation)."""
    losses = []
    with evaluating(model), tt.no_grad():
        for done in range(n_batches):
            if on_batch is not None:
                on_batch(done)
            x, y = get_batch(ids, config.block_size, config.batch_size, generator)
            losses.append(model(x, y)[1].item())
    return float(np.mean(losses))


def sample_text(model, tokenizer, config, n_tokens, seed=0, on_token=None):
    """A sample from the model, started from tokenizers.start_ids (<|endoftext|>, else a
    newline). `on_token()`, if given, is called after each token (it may raise to abandon the
    sample)."""
    start = start_ids(tokenizer)
    out = model.generate(np.array([start]), n_tokens, temperature=0.8, top_k=200, seed=seed,
                         on_token=None if on_token is None else lambda token: on_token())
    return tokenizer.decode(out[0, len(start):].tolist())


class EvaluationProgress:
    """`on_batch` for estimate_loss: lets a stop request end the evaluation (`check()`), and
    logs how far a long one has got, at most once every `every` seconds of `clock`."""

    def __init__(self, label, total, log, check, every=10.0, clock=time.monotonic):
        self.label, self.total, self.log, self.check = label, total, log, check
        self.every, self.clock = every, clock
        self.started = self.last = clock()

    def __call__(self, done):
        self.check()
        now = self.clock()
        if done and now - self.last >= self.every:
            left = (self.total - done) * (now - self.started) / done
            self.log(f"{self.label}: {done:,} of {self.total:,} batches | {duration(left)} left")
            self.last = now


# ----- checkpoints ---------------------------------------------------------------------------

def save_checkpoint(out, model, tokenizer, optimizer, state):
    """Model, tokenizer, then the training state with a fingerprint of the weights file, so
    a resume can tell if the files come from different saves (a last line of defence: a run
    directory replaces its checkpoint as a whole, gpt.safeguards.run_directory)."""
    model.save_pretrained(out, extra_config=token_ids_config(tokenizer))
    save_tokenizer(tokenizer, out)
    tt.save({**state, "optimizer": optimizer.state_dict(),
             "weights_sha256": file_sha256(Path(out) / "model.safetensors")},
            Path(out) / STATE_FILE)


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_checkpoint(out):
    """(model, tokenizer, state) from an output directory written by `save_checkpoint`."""
    out = Path(out)
    if not (out / STATE_FILE).is_file():
        raise FileNotFoundError(not_a_checkpoint(out))
    state = tt.load(out / STATE_FILE)
    if state["weights_sha256"] != file_sha256(out / "model.safetensors"):
        raise ValueError(f"{out}: model.safetensors does not match {STATE_FILE} (they come "
                         f"from different saves, or one was changed since); the checkpoint "
                         f"cannot be resumed exactly")
    model = GPT.from_pretrained(out)
    return model, load_tokenizer(out), state


def not_a_checkpoint(out):
    return (f"{out} is not a training checkpoint (no {STATE_FILE}); a run stopped before its "
            f"first save has none: start it again without --resume")


def open_run_directory(out, resume, log):
    """The run directory `out`, locked, with a save that was cut short finished or undone.
    For a resume it must exist and hold a checkpoint; otherwise it is made if need be."""
    out = Path(out)
    if resume and not out.is_dir():
        raise FileNotFoundError(not_a_checkpoint(out))
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} already exists and is a file, not a run directory; "
                              f"choose another --out")
    directory = RunDirectory(out, CHECKPOINT_FILES, log_files=(METRICS_FILE,))
    if directory.open(create=not resume):
        log(f"{out}: a save was cut short (the run was killed?); restored the checkpoint it "
            f"was replacing")
    if resume and not directory.has_file(STATE_FILE):
        directory.close()
        raise FileNotFoundError(not_a_checkpoint(out))
    return directory


def saved_config(out, log=print):
    """The settings (a dict) of the run whose checkpoint is in `out` (None if its state file
    holds none: the caller says what is wrong)."""
    with open_run_directory(out, resume=True, log=log):
        state = tt.load(Path(out) / STATE_FILE)
    return state.get("config") if isinstance(state, dict) else None


# ----- the run -------------------------------------------------------------------------------

class Run:
    """Everything one training run holds; `train()` drives it. Made inside StopSignals, it
    sets the run up (signals stop it at once), then defers them; it holds its directory,
    locked, until it is closed (a context manager)."""

    def __init__(self, config, resume, log, stop):
        self.config, self.log = config, log
        self.out = Path(config.out) if config.out else new_run_directory()
        self.text = read_text(config.data) if config.data else default_corpus()
        self.directory = self.metrics = None
        self.saved = None             # (iteration, metrics lines) of the checkpoint on disk
        try:
            self.directory = open_run_directory(self.out, resume, log)
            if resume:
                self._restore()
            else:
                self._start()
            stop.defer()
        except BaseException as error:
            # (A directory made for a run that failed this early stays, empty or holding an
            # empty log: it does not block the rerun. Removing it could remove it under a
            # second run that has just opened it.)
            self.close()
            if isinstance(error, Stopped):
                kept = f"{self.out} still holds its checkpoint" if resume else "nothing was saved"
                log(f"stopped before training began; {kept}")
            raise

    def _start(self):
        self._check_new_run()
        config = self.config
        self.tokenizer = make_tokenizer(self.text, config.char, config.vocab_size, log=self.log)
        self.ids = encode_corpus(self.tokenizer, self.text)
        self._split()
        self.model = GPT(config.model_config(self.tokenizer.vocab_size), seed=config.seed)
        self.optimizer = make_optimizer(self.model, config)
        self.iteration = 0
        self.batch_generator = stream("training batches", config.seed)
        self.metrics = MetricsLog.start(self.out / METRICS_FILE)

    def _check_new_run(self):
        """A new run may take an empty directory, or one whose run saved no progress: it was
        stopped before its first save, or saved only iteration 0 (a failed or killed start)."""
        directory, out = self.directory, self.out
        if directory.has_file(STATE_FILE):
            iteration = int(tt.load(out / STATE_FILE)["iteration"])
            if iteration > 0:
                raise FileExistsError(f"{out} already exists and holds a run saved at "
                                      f"iteration {iteration}; pass --resume to continue that "
                                      f"run, or choose another --out")
        # Anything else there is not ours: a model without training state, the user's files.
        not_ours = directory.unknown_entries() or (
            not directory.has_file(STATE_FILE)
            and any(directory.has_file(name) for name in CHECKPOINT_FILES))
        if not_ours:
            raise FileExistsError(f"{out} already exists and is not empty; choose another "
                                  f"--out or remove it first")
        if os.listdir(out):
            self.log(f"{out} holds a run that saved no progress: starting it again")

    def _restore(self):
        self.model, self.tokenizer, state = load_checkpoint(self.out)
        check_resume(self.config, TrainConfig(**state["config"]))
        self.ids = encode_corpus(self.tokenizer, self.text)
        if hashlib.sha256(self.ids.tobytes()).hexdigest() != state["data_sha256"]:
            raise ValueError("incompatible resume: the training text is not the one this run "
                             "started with")
        self._split()
        self.model.config.dropout = self.config.dropout
        self.optimizer = make_optimizer(self.model, self.config)
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        if self.iteration > self.config.max_iters:       # a finished run's own count is fine
            raise ValueError(f"{self.nothing_to_train()}; give a --max-iters above "
                             f"{self.iteration} to train on")
        self.batch_generator = np.random.default_rng()
        self.batch_generator.bit_generator.state = state["batch_rng"]
        self.model.dropout_generator.bit_generator.state = state["dropout_rng"]
        self.metrics = MetricsLog.resume(self.out / METRICS_FILE, state.get("metrics_lines"),
                                         self.iteration, warn=self._warn)
        self.saved = (self.iteration, len(self.metrics.entries))

    def nothing_to_train(self):
        return (f"{self.out} is already at iteration {self.iteration} of --max-iters "
                f"{self.config.max_iters}: nothing to train")

    def _split(self):
        self.train_ids, self.val_ids = split_ids(self.ids)
        for name, ids in (("training", self.train_ids), ("validation", self.val_ids)):
            if len(ids) < self.config.block_size + 1:
                raise ValueError(f"the {name} split has {len(ids)} tokens, fewer than one "
                                 f"window of block_size + 1 = {self.config.block_size + 1}")

    def _warn(self, message):
        self.log(f"warning: {message}")

    def close(self):
        if self.metrics is not None:
            self.metrics.close()
        if self.directory is not None:
            self.directory.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ----- saving and logging ----------------------------------------------------------------

    def state(self):
        return {"config": dataclasses.asdict(self.config), "iteration": self.iteration,
                "batch_rng": self.batch_generator.bit_generator.state,
                "dropout_rng": self.model.dropout_generator.bit_generator.state,
                "data_sha256": hashlib.sha256(self.ids.tobytes()).hexdigest(),
                "metrics_lines": len(self.metrics.entries)}

    def save(self):
        """A checkpoint of the current iteration, replacing the last one as a whole."""
        state = self.state()
        svg = loss_curve_svg(self.metrics.entries, title=str(self.out))

        def write_files(folder):
            save_checkpoint(folder, self.model, self.tokenizer, self.optimizer, state)
            with atomic_write(folder / SVG_FILE) as f:         # the curve beside the model
                # (its title is the run's path: bytes that are not UTF-8 there show escaped)
                f.write(svg.encode("utf-8", errors="backslashreplace"))

        try:
            self.metrics.sync()                # the lines the checkpoint counts are on disk
            self.directory.replace_checkpoint(write_files)
        except OSError as error:
            raise OSError(error.errno, f"{error.strerror}: could not save iteration "
                                       f"{self.iteration}; {self._what_is_saved()}",
                          error.filename) from None
        self.saved = (self.iteration, len(self.metrics.entries))

    def up_to_date(self):
        """True if the checkpoint on disk holds everything done and logged so far."""
        return self.saved == (self.iteration, len(self.metrics.entries))

    def _what_is_saved(self):
        if self.saved is None:
            return "nothing was saved (start the run again once the problem is fixed)"
        return (f"{self.out} holds the checkpoint of iteration {self.saved[0]} (continue with "
                f"--resume --out {self.out})")

    def record(self, entry):
        self.metrics.append(entry)

    def evaluation_at(self, iteration):
        """The logged evaluation of `iteration`, or None."""
        for entry in reversed(self.metrics.entries):
            if entry["iter"] == iteration and "val_loss" in entry:
                return entry
        return None

    def evaluate(self, val_batches, stop):
        config = self.config
        label = f"eval  iter {self.iteration:5d}"

        def estimate(what, ids, n_batches, batches):
            progress = EvaluationProgress(f"{label} | {what} loss", n_batches, self.log,
                                          stop.check)
            return check_finite_loss(estimate_loss(self.model, ids, config, n_batches,
                                                   stream(batches, config.seed),
                                                   on_batch=progress), f"the {what} loss")

        entry = {"iter": self.iteration,
                 "train_loss_eval": estimate("training", self.train_ids, config.eval_iters,
                                             "training-loss evaluation"),
                 "val_loss": estimate("validation", self.val_ids, val_batches, "validation"),
                 "val_batches": val_batches}
        self.record(entry)
        self.log(f"{label} | train loss {entry['train_loss_eval']:.4f} | "
                 f"val loss {entry['val_loss']:.4f} ({val_batches} batches)")
        return entry


def new_run_directory():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def check_resume(config, saved):
    """The settings that fix the model and its data must match the checkpoint's."""
    for name in ("char", "vocab_size", "n_layer", "n_head", "n_embd", "block_size", "seed",
                 "arch", "norm", "positions", "mlp", "n_kv_head", "tie_embeddings"):
        if getattr(config, name) != getattr(saved, name):
            raise ValueError(f"incompatible resume: {name.replace('_', '-')} is "
                             f"{getattr(config, name)} but the checkpoint has "
                             f"{getattr(saved, name)}")


def train(config, resume=False, log=print):
    """Train (or, with resume, continue) a run; returns a dict with the losses per iteration,
    the final validation loss, the sample and the output directory. Ctrl-C or SIGTERM saves
    the latest completed iteration and raises Stopped."""
    with StopSignals() as stop, Run(config, resume, log, stop) as run:
        try:
            return run_to_the_end(run, stop)
        except Stopped:
            if not run.up_to_date():
                run.save()
            log(f"stopped at iteration {run.iteration}; checkpoint saved in {run.out} "
                f"(continue with --resume --out {run.out})")
            raise


def run_to_the_end(run, stop):
    """The loop: train to max_iters with an evaluation and a save every eval_interval
    iterations, a final evaluation and save, and a sample. Raises Stopped at a safe point
    after a signal."""
    model, c, log = run.model, run.config, run.log
    log(f"{model.num_parameters():,} parameters; {len(run.train_ids):,} training and "
        f"{len(run.val_ids):,} validation tokens; vocabulary {run.tokenizer.vocab_size}; "
        f"writing to {run.out}")
    for line in c.schedule_warnings():
        log(line)
    if run.iteration >= c.max_iters:            # a finished run, resumed: it samples again
        log(run.nothing_to_train())
    if run.saved is None:
        run.save()                     # iteration 0: from now on there is always a checkpoint
    losses, interval_start, interval_time = {}, run.iteration, 0.0
    tokens_per_iter = c.batch_size * c.block_size * c.grad_accum
    with quiet_divergence():
        while run.iteration < c.max_iters:
            stop.check()
            if (run.iteration % c.eval_interval == 0 and run.iteration > 0
                    and run.evaluation_at(run.iteration) is None):
                run.evaluate(c.eval_iters, stop)
                run.save()
                stop.check()
            lr = learning_rate(c, run.iteration)
            optim.set_lr(run.optimizer, lr)
            started = time.perf_counter()
            loss = train_step(model, run.optimizer, run.train_ids, c, run.batch_generator)
            interval_time += time.perf_counter() - started
            run.iteration += 1
            losses[run.iteration] = loss
            if run.iteration % c.log_interval == 0 or run.iteration == c.max_iters:
                ms = 1000 * interval_time / (run.iteration - interval_start)
                run.record({"iter": run.iteration, "loss": loss, "lr": lr, "ms_per_iter": ms,
                            "tokens_per_sec": tokens_per_iter / ms * 1000})
                log(progress_line(run.iteration, c.max_iters, loss, lr, ms, tokens_per_iter))
                interval_start, interval_time = run.iteration, 0.0
        # The final figure: at least final_eval_iters validation batches. A resumed run that
        # had finished (or a shorter --max-iters) may have logged it already.
        final = run.evaluation_at(run.iteration)
        if final is None or final["val_batches"] < c.final_eval_iters:
            final = run.evaluate(c.final_eval_iters, stop)    # a last step's divergence shows
    if not run.up_to_date():
        run.save()
    stop.check()
    result = {"losses": losses, "val_loss": final["val_loss"], "out": run.out, "sample": ""}
    if c.sample_tokens:
        result["sample"] = sample_text(model, run.tokenizer, c, c.sample_tokens, seed=c.seed,
                                       on_token=stop.check)
        log("sample:\n" + result["sample"])
        found, total = words_found(result["sample"], run.text)
        result["words_found"] = (found, total)
        log(f"\n{found} of the sample's {total} words of three or more letters occur in the "
            f"training text ({found / max(total, 1):.0%})")
    return result


def words_found(sample, text):
    """(how many, of how many) words of three or more letters in `sample` occur in `text`: a
    rough measure of a sample's quality (made-up words do not occur)."""
    known = set(re.findall(r"[^\W\d_]+", text))
    words = [w for w in re.findall(r"[^\W\d_]+", sample) if len(w) >= 3]
    return sum(w in known for w in words), len(words)


def progress_line(it, max_iters, loss, lr, ms, tokens_per_iter):
    left = (max_iters - it) * ms / 1000
    return (f"iter {it:5d}/{max_iters} | loss {loss:.4f} | lr {lr:.2e} | {ms:6.1f} ms/iter | "
            f"{tokens_per_iter / ms * 1000:8,.0f} tok/s | {duration(left)} left")


def duration(seconds):
    """'4m05s'."""
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
