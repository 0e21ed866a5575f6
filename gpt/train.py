"""Training a GPT from scratch: the loop, evaluation, logging, checkpoints and exact resume.

One iteration:
    lr = warmup then cosine decay (tinytorch.optim.warmup_cosine_lr)
    grad_accum times:  x, y = random windows;  loss(x, y) / grad_accum  -> backward
    clip the gradient norm to 1.0;  AdamW step (weight decay on 2-D weights only)

An output directory is a complete checkpoint: the model in Hugging Face's layout
(config.json + model.safetensors), the tokenizer (see gpt.tokenizers), train_state.npz (the
optimizer's moments, the iteration, the random generators' states, both configs),
metrics.jsonl (one JSON object per logged line) and loss.svg (the curves, for a browser). `--resume` continues from it exactly: the
same batches, the same dropout masks, the same losses.
"""
import dataclasses
import hashlib
import json
import re
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

import tinytorch as tt
from tinytorch import optim
from tinytorch.serialization import atomic_write

from .checks import boolean, integer, number, optional_integer
from .config import GPTConfig
from .data import default_corpus, encode_corpus, get_batch, make_tokenizer, read_text, split_ids
from .memory import check_training_fits
from .model import GPT
from .output_dir import check_new_directory
from .pictures import loss_curve_svg, read_metrics
from .tokenizers import load_tokenizer, save_tokenizer, start_ids, token_ids_config
from .training_step import check_finite_loss, make_adamw, optimizer_step, quiet_divergence

STATE_FILE = "train_state.npz"
METRICS_FILE = "metrics.jsonl"
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
    decay 0.1, no dropout)."""

    data: str = None              # a UTF-8 text file; None: Python's help topics
    out: str = None               # output directory; None: a new runs/<timestamp>
    char: bool = False            # one token per character instead of BPE
    vocab_size: int = 512         # BPE vocabulary size (ignored with char)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    batch_size: int = 12
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
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
        for name in ("warmup_iters", "sample_tokens", "seed"):
            setattr(self, name, integer(getattr(self, name), flag_name(name), minimum=0))
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
        self.model_config(vocab_size=257)          # the model's own rules (heads divide n_embd)
        # The vocabulary is not known before the tokenizer is trained: leaving it out here
        # makes the figure a lower bound (GPT() checks the whole model's weights again).
        check_training_fits({**dataclasses.asdict(self), "vocab_size": 0},
                            {name: (flag_name(name), getattr(TrainConfig, name))
                             for name in MEMORY_FLAGS})

    @property
    def decay_iters(self):
        return self.max_iters if self.lr_decay_iters is None else self.lr_decay_iters

    def model_config(self, vocab_size):
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd,
                         dropout=self.dropout)


# ----- the pieces of a run -------------------------------------------------------------------

def make_optimizer(model, config):
    """AdamW with `config`'s lr and betas, weight decay on the 2-D weights only (make_adamw)."""
    return make_adamw(model, config.lr, config.weight_decay, betas=(config.beta1, config.beta2))


def learning_rate(config, it):
    return optim.warmup_cosine_lr(it, config.lr, config.min_lr, config.warmup_iters,
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


@tt.no_grad()
def estimate_loss(model, ids, config, n_batches, seed):
    """Mean loss over `n_batches` batches drawn from a generator seeded with `seed`, so every
    evaluation of a run sees the same batches; dropout off."""
    was_training = model.training
    model.eval()
    generator = np.random.default_rng(seed)
    losses = [model(*get_batch(ids, config.block_size, config.batch_size, generator))[1].item()
              for _ in range(n_batches)]
    model.train(was_training)
    return float(np.mean(losses))


def sample_text(model, tokenizer, config, n_tokens, seed=0):
    """A sample from the model, started from tokenizers.start_ids (<|endoftext|>, else a
    newline)."""
    start = start_ids(tokenizer)
    out = model.generate(np.array([start]), n_tokens, temperature=0.8, top_k=200, seed=seed)
    return tokenizer.decode(out[0, len(start):].tolist())


# ----- checkpoints ---------------------------------------------------------------------------

def save_checkpoint(out, model, tokenizer, optimizer, state):
    """Model, tokenizer, then the training state with a fingerprint of the weights file, so
    a resume can tell if a save was interrupted between the files (each file is atomic)."""
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
        raise FileNotFoundError(f"{out} is not a training checkpoint (no {STATE_FILE})")
    state = tt.load(out / STATE_FILE)
    if state["weights_sha256"] != file_sha256(out / "model.safetensors"):
        raise ValueError(f"{out}: model.safetensors does not match {STATE_FILE} (a save was "
                         f"interrupted); the checkpoint cannot be resumed exactly")
    model = GPT.from_pretrained(out)
    return model, load_tokenizer(out), state


# ----- the run -------------------------------------------------------------------------------

class Run:
    """Everything one training run holds; `train()` drives it."""

    def __init__(self, config, resume=False, log=print):
        self.config, self.log = config, log
        self.out = Path(config.out) if config.out else new_run_directory()
        self.text = text = read_text(config.data) if config.data else default_corpus()
        if resume:
            self._restore(text)
        else:
            self._start(text)
        self.train_ids, self.val_ids = split_ids(self.ids)
        for name, ids in (("training", self.train_ids), ("validation", self.val_ids)):
            if len(ids) < config.block_size + 1:
                raise ValueError(f"the {name} split has {len(ids)} tokens, fewer than one "
                                 f"window of block_size + 1 = {config.block_size + 1}")

    def _start(self, text):
        check_new_directory(self.out, "pass --resume to continue that run, or choose "
                                      "another --out")
        # A run directory fills as training goes (checkpoints, metrics): it is created now.
        self.out.mkdir(parents=True, exist_ok=True)
        config = self.config
        self.tokenizer = make_tokenizer(text, config.char, config.vocab_size)
        self.ids = encode_corpus(self.tokenizer, text)
        self.model = GPT(config.model_config(self.tokenizer.vocab_size), seed=config.seed)
        self.optimizer = make_optimizer(self.model, config)
        self.iteration = 0
        self.batch_generator = np.random.default_rng([config.seed, 2])
        (self.out / METRICS_FILE).write_text("")

    def _restore(self, text):
        self.model, self.tokenizer, state = load_checkpoint(self.out)
        check_resume(self.config, TrainConfig(**state["config"]))
        self.ids = encode_corpus(self.tokenizer, text)
        if hashlib.sha256(self.ids.tobytes()).hexdigest() != state["data_sha256"]:
            raise ValueError("incompatible resume: the training text is not the one this run "
                             "started with")
        self.model.config.dropout = self.config.dropout
        self.optimizer = make_optimizer(self.model, self.config)
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.batch_generator = np.random.default_rng()
        self.batch_generator.bit_generator.state = state["batch_rng"]
        self.model.dropout_generator.bit_generator.state = state["dropout_rng"]
        keep_metrics_up_to(self.out / METRICS_FILE, self.iteration)

    def state(self):
        return {"config": dataclasses.asdict(self.config), "iteration": self.iteration,
                "batch_rng": self.batch_generator.bit_generator.state,
                "dropout_rng": self.model.dropout_generator.bit_generator.state,
                "data_sha256": hashlib.sha256(self.ids.tobytes()).hexdigest()}

    def save(self):
        save_checkpoint(self.out, self.model, self.tokenizer, self.optimizer, self.state())
        svg = loss_curve_svg(read_metrics(self.out / METRICS_FILE), title=str(self.out))
        with atomic_write(self.out / "loss.svg") as f:          # the curve beside the model
            # (its title is the run's path: bytes that are not UTF-8 there are shown escaped)
            f.write(svg.encode("utf-8", errors="backslashreplace"))

    def record(self, entry):
        with open(self.out / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def evaluate(self, val_batches):
        config = self.config
        entry = {"iter": self.iteration,
                 "train_loss_eval": check_finite_loss(
                     estimate_loss(self.model, self.train_ids, config, config.eval_iters,
                                   seed=config.seed + 10), "the training loss"),
                 "val_loss": check_finite_loss(
                     estimate_loss(self.model, self.val_ids, config, val_batches,
                                   seed=config.seed + 20), "the validation loss"),
                 "val_batches": val_batches}
        self.record(entry)
        self.log(f"eval  iter {self.iteration:5d} | train loss {entry['train_loss_eval']:.4f} | "
                 f"val loss {entry['val_loss']:.4f} ({val_batches} batches)")
        return entry


def new_run_directory():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def check_resume(config, saved):
    """The settings that fix the model and its data must match the checkpoint's."""
    for name in ("char", "vocab_size", "n_layer", "n_head", "n_embd", "block_size", "seed"):
        if getattr(config, name) != getattr(saved, name):
            raise ValueError(f"incompatible resume: {name.replace('_', '-')} is "
                             f"{getattr(config, name)} but the checkpoint has "
                             f"{getattr(saved, name)}")


def keep_metrics_up_to(path, iteration):
    """Drop logged lines from after the checkpoint (they will be logged again)."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line and json.loads(line)["iter"] <= iteration]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


class StopRequest:
    """Turns the first Ctrl-C into a request to stop after the current iteration (so the
    checkpoint is consistent); a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:            # not the main thread: no signal handling
            self.previous = None
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def train(config, resume=False, log=print):
    """Train (or, with resume, continue) a run; returns a dict with the losses per iteration,
    the final validation loss, the sample and the output directory."""
    tt.memory.keep_freed_memory()      # reuse freed pages: no page faults every step
    run = Run(config, resume=resume, log=log)
    model, c = run.model, config
    log(f"{model.num_parameters():,} parameters; {len(run.train_ids):,} training and "
        f"{len(run.val_ids):,} validation tokens; vocabulary {run.tokenizer.vocab_size}; "
        f"writing to {run.out}")
    losses, interval_start, interval_time = {}, run.iteration, 0.0
    tokens_per_iter = c.batch_size * c.block_size * c.grad_accum
    with StopRequest() as stop, quiet_divergence():
        while run.iteration < c.max_iters:
            if run.iteration % c.eval_interval == 0 and run.iteration > 0:
                run.evaluate(c.eval_iters)
                run.save()
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
            if stop.requested:
                run.save()
                log(f"stopped at iteration {run.iteration}; checkpoint saved in {run.out} "
                    f"(continue with --resume --out {run.out})")
                raise KeyboardInterrupt
    with quiet_divergence():
        final = run.evaluate(c.final_eval_iters)       # a last step's divergence shows here
    run.save()
    result = {"losses": losses, "val_loss": final["val_loss"], "out": run.out, "sample": ""}
    if c.sample_tokens:
        result["sample"] = sample_text(model, run.tokenizer, c, c.sample_tokens, seed=c.seed)
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
            f"{tokens_per_iter / ms * 1000:8,.0f} tok/s | {int(left // 60)}m{int(left % 60):02d}s left")
