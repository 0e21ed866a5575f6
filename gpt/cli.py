"""The command line: `python -m gpt train|sample|quantize|finetune-classify|classify|
finetune-instruct|finetune-preference|attention|lens|explain ...` (`python -m gpt COMMAND
--help` explains each).

Library code raises exceptions; only here does a user's mistake (a missing file, a bad flag
value, a directory that is not a checkpoint) become a one-line message and a non-zero exit.
"""
import argparse
import codecs
import dataclasses
import os
import signal
import sys
from pathlib import Path

import numpy as np

from bpe.__main__ import OneLineErrorParser
from tinytorch.serialization import atomic_write

from .config import ARCHITECTURES, MLPS, NORMS, POSITIONS
from .quantize import INT8_FILE, load_int8, quantize_int8
from .safeguards.memory import NotEnoughMemory
from .sampling import DRAFT_TOKENS, check_draft_model, check_generation_arguments
from .tokenizers import (encode_prompt, first_different_token, load_tokenizer, output_bytes,
                         start_ids, stop_ids, token_bytes)
from .train import STATE_FILE, TrainConfig, saved_config, train

USER_ERRORS = (ValueError, TypeError, KeyError, OSError, FloatingPointError)   # a diverging --lr
# What each command's user can do about a MemoryError that our estimates did not foresee
MODEL_TOO_LARGE = "the model is too large for the free memory of this machine"
LOWER_BATCH_SIZE = "lower --batch-size (or --lora-rank)"
TEMPERATURE = 0.8                  # `sample`'s temperature when none is given
# What a fine-tuning command's --model may be (gpt.hf_checkpoint reads all three families)
PRETRAINED = ("a checkpoint directory with its tokenizer: one written by `train`, or Hugging "
              "Face's GPT-2, Llama or Qwen")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        # A path given in bytes that are not UTF-8 is printed back as those bytes, not refused
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        return args.run(args)
    except KeyboardInterrupt as interrupt:     # Ctrl-C, or gpt.safeguards.stop_signals.Stopped
        return 128 + getattr(interrupt, "signum", signal.SIGINT)
    except BrokenPipeError:
        # the reader went away (as in `sample ... | head -1`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError as error:
        print(f"error: {describe_memory_error(error, args.memory_advice)}", file=sys.stderr)
        return 1
    except USER_ERRORS as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1


def describe(error):
    """One line for an exception: the file name and the OS's reason for an OSError."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    if isinstance(error, KeyError):
        return f"missing entry {error}"
    return " ".join(str(error).split("\n")) or type(error).__name__


def describe_memory_error(error, advice):
    """Our own estimate says it all; NumPy's MemoryError ("Unable to allocate 3 TiB for an
    array with shape ...") gets the command's advice on what to lower."""
    if isinstance(error, NotEnoughMemory):
        return str(error)
    return f"out of memory ({error or 'an allocation failed'}); {advice}"


def build_parser():
    # bpe's parser: an argument error is one line and where to read more, not the usage
    # (argparse gives the subcommands' parsers the same class)
    parser = OneLineErrorParser(prog="python -m gpt",
                                description="Train GPT-2 or Llama style models; sample from them "
                                            "and from Hugging Face's GPT-2, Llama and Qwen "
                                            "checkpoints, fine-tune them, look inside them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_command(commands)
    add_sample_command(commands)
    add_quantize_command(commands)
    add_finetune_instruct_command(commands)
    add_finetune_preference_command(commands)
    add_finetune_classify_command(commands)
    add_classify_command(commands)
    add_attention_command(commands)
    add_lens_command(commands)
    add_explain_command(commands)
    return parser


def utf8_text(text):
    """An argparse type for a text flag (--prompt, --text). An argument that is not valid
    UTF-8 reaches Python with its bad bytes as lone surrogates (PEP 383); such text can be
    neither encoded nor printed, so it is refused, saying where the bad byte is. (File names
    are left alone: any bytes make a valid one.)"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not valid UTF-8 ({first_bad_byte(text)})") from None
    return text


def first_bad_byte(text):
    """Where the first byte that is not UTF-8 was in a surrogate-escaped argument."""
    try:
        raw = text.encode("utf-8", "surrogateescape")       # the bytes as they were given
        raw.decode("utf-8")
    except UnicodeEncodeError as error:           # a surrogate that stands for no byte
        return f"character {error.start} is a lone surrogate"
    except UnicodeDecodeError as error:
        return f"byte 0x{raw[error.start]:02x} at offset {error.start}"
    return "no bad byte found"


# ----- train ---------------------------------------------------------------------------------

def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_train_command(commands):
    d = TrainConfig
    p = commands.add_parser(
        "train", help="train a GPT from scratch on a text file",
        description="Train a GPT on a text file and write a checkpoint directory (the model "
                    "in Hugging Face's layout, the tokenizer, the training state, metrics). "
                    "Defaults: nanoGPT's character-level Shakespeare configuration for CPUs.")
    flag = p.add_argument
    flag("--data", help="a UTF-8 text file (default: Python's built-in help topics, no "
                        "download needed)")
    flag("--out", help="output directory (default: a new runs/<date-time>); never overwritten "
                       "unless --resume")
    vocab = p.add_mutually_exclusive_group()
    vocab.add_argument("--char", action="store_true", default=None,
                       help="one token per character instead of BPE")
    vocab.add_argument("--vocab-size", type=positive_int,
                       help=f"BPE vocabulary size, trained on the data (default {d.vocab_size})")
    flag("--arch", choices=tuple(ARCHITECTURES),
         help="the parts the model is made of: gpt2 (LayerNorm, learned positions, GELU MLP, "
              "tied head; the default) or llama (RMSNorm, rotary positions, SwiGLU MLP, "
              "half as many key/value heads as query heads, a head of its own)")
    flag("--norm", choices=NORMS, help="override the arch's normalisation")
    flag("--positions", choices=POSITIONS, help="override the arch's positions")
    flag("--mlp", choices=MLPS, help="override the arch's MLP")
    flag("--n-kv-head", type=positive_int,
         help="key/value heads (grouped-query attention; 1 is multi-query); must divide "
              "--n-head")
    flag("--tie-embeddings", action=argparse.BooleanOptionalAction, default=None,
         help="the LM head is the token embedding (gpt2) or a matrix of its own (llama)")
    flag("--n-layer", type=positive_int, help=f"transformer blocks (default {d.n_layer})")
    flag("--n-head", type=positive_int, help=f"attention heads per block (default {d.n_head})")
    flag("--n-embd", type=positive_int, help=f"width of the residual stream (default {d.n_embd})")
    flag("--block-size", type=positive_int,
         help=f"context length in tokens (default {d.block_size})")
    flag("--batch-size", type=positive_int, help=f"sequences per micro-batch (default {d.batch_size})")
    flag("--max-iters", type=positive_int, help=f"training iterations (default {d.max_iters})")
    flag("--lr", type=float, help=f"peak learning rate (default {d.lr})")
    flag("--min-lr", type=float, help=f"learning rate at the end of the cosine decay "
                                      f"(default {d.min_lr})")
    flag("--warmup-iters", type=int, help="iterations of linear warmup (default 100, or a "
                                           "twentieth of a run of fewer than 2000 iterations)")
    flag("--lr-decay-iters", type=positive_int,
         help="iteration where the cosine decay reaches --min-lr (default: --max-iters)")
    flag("--weight-decay", type=float, help=f"AdamW weight decay on 2-D weights "
                                            f"(default {d.weight_decay})")
    flag("--dropout", type=float, help=f"dropout probability (default {d.dropout})")
    flag("--grad-accum", type=positive_int,
         help=f"micro-batches accumulated per iteration (default {d.grad_accum})")
    flag("--eval-interval", type=positive_int,
         help=f"evaluate and save a checkpoint every N iterations (default {d.eval_interval})")
    flag("--eval-iters", type=positive_int,
         help=f"batches per evaluation (default {d.eval_iters}; the final one uses at least 400)")
    flag("--log-interval", type=positive_int,
         help=f"print a progress line every N iterations (default {d.log_interval})")
    flag("--sample-tokens", type=int,
         help=f"length of the sample printed at the end (default {d.sample_tokens})")
    flag("--seed", type=int, help=f"seed for weights, batches and dropout (default {d.seed})")
    flag("--resume", action="store_true",
         help="continue the run in --out exactly where its checkpoint stopped")
    p.set_defaults(run=run_train, memory_advice="lower --batch-size, --block-size, --n-embd "
                                                "or --n-layer")


def run_train(args):
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)
             if getattr(args, field.name, None) is not None}
    if args.resume:
        if not args.out:
            raise ValueError("--resume needs --out, the directory of the run to continue")
        config = resumed_config(args.out, given)
    else:
        config = TrainConfig(**given)
    train(config, resume=args.resume)
    return 0


def resumed_config(out, given):
    """The checkpoint's settings, with the flags given on this command line on top. Settings
    in the checkpoint that are not valid are an error naming its file."""
    saved = saved_config(out)
    state_path = Path(out) / STATE_FILE
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    if not (isinstance(saved, dict) and set(saved) <= known):
        raise ValueError(f"{state_path} does not hold the settings of a `python -m gpt train` "
                         f"run (its config entry is {str(saved)[:80]})")
    try:
        TrainConfig(**saved)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{state_path} holds settings that are not valid: {error}") from None
    return TrainConfig(**{**saved, **given})


# ----- sample --------------------------------------------------------------------------------

def add_sample_command(commands):
    p = commands.add_parser(
        "sample", help="generate text from a trained model",
        description="Generate text from a checkpoint directory: one written by `train`, or "
                    "Hugging Face's GPT-2, Llama or Qwen with its tokenizer files. By default "
                    "token by token (sampled; greedy with --temperature 0 or --num-beams 1); "
                    "--num-beams K: beam search, printing the best beam; --draft-model DIR drafts "
                    "tokens with a small model of the same tokenizer (speculative decoding: "
                    "the same distribution, faster when the draft guesses well); --int8 "
                    "samples from the model with int8 weights.")
    p.add_argument("--model", required=True, help="the checkpoint directory")
    p.add_argument("--prompt", default="", type=utf8_text,
                   help="text to continue (default: start from <|endoftext|>, or a newline)")
    p.add_argument("--max-new-tokens", type=positive_int, default=200,
                   help="tokens to generate (default 200)")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"0 is greedy; higher is more random (default {TEMPERATURE})")
    p.add_argument("--top-k", type=positive_int, default=None,
                   help="sample only from the K most likely tokens")
    p.add_argument("--top-p", type=float, default=None,
                   help="sample only from the most likely tokens holding probability P")
    p.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    p.add_argument("--num-beams", type=positive_int, default=None,
                   help="beam search with K beams (deterministic: no --temperature, --top-k "
                        "or --top-p; 1 beam is greedy decoding, as --temperature 0); prints "
                        "the best beam")
    p.add_argument("--length-penalty", type=float, default=None,
                   help="beam search: scores are divided by length ** X (default 1.0; 0 "
                        "favours short texts, larger values longer ones)")
    p.add_argument("--early-stopping", action="store_true",
                   help="beam search: stop once K finished beams are kept")
    p.add_argument("--draft-model", default=None,
                   help="a small checkpoint with the same tokenizer that drafts tokens for "
                        "--model to check (speculative decoding)")
    p.add_argument("--num-draft-tokens", type=positive_int, default=None,
                   help=f"tokens the draft proposes per check (default {DRAFT_TOKENS})")
    p.add_argument("--int8", action="store_true",
                   help=f"int8 weights: the directory's {INT8_FILE} if it has one, else its "
                        f"float weights quantised as they are loaded")
    p.set_defaults(run=run_sample, memory_advice=MODEL_TOO_LARGE)


def generation_settings(args):
    """generate()'s keyword arguments from `sample`'s flags, checked (before any model is
    loaded: seconds for a large one): a flag of one way of decoding given to another is an
    error naming it. --num-beams K is deterministic for every K: one beam is greedy decoding
    (Hugging Face's num_beams=1, do_sample=False), which generate() does at temperature 0."""
    beams = args.num_beams or 1                     # no --num-beams: token by token
    if args.num_beams is not None:
        given = [flag for flag, value in (("--temperature", args.temperature),
                                          ("--top-k", args.top_k), ("--top-p", args.top_p),
                                          ("--draft-model", args.draft_model)) if value is not None]
        what = "beam search" if beams > 1 else "(one beam: greedy decoding)"
        if given:
            raise ValueError(f"--num-beams {args.num_beams} is deterministic {what}: "
                             f"{', '.join(given)} does not apply")
    if beams == 1:
        given = [flag for flag, value in (("--length-penalty", args.length_penalty),
                                          ("--early-stopping", args.early_stopping or None))
                 if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} applies to beam search only: give "
                             f"--num-beams K (K >= 2)")
    if args.num_draft_tokens is not None and args.draft_model is None:
        raise ValueError("--num-draft-tokens applies to speculative decoding only: give "
                         "--draft-model DIR")
    settings = dict(
        temperature=TEMPERATURE if args.temperature is None else args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed, num_beams=beams,
        length_penalty=1.0 if args.length_penalty is None else args.length_penalty,
        early_stopping=args.early_stopping,
        num_draft_tokens=args.num_draft_tokens or DRAFT_TOKENS)
    if args.num_beams == 1:
        settings.update(temperature=0, seed=None)       # greedy: nothing is drawn
    elif args.num_beams is not None:
        settings.update(temperature=1.0, seed=None)     # unused by beam search
    # the draft's directory stands for the draft model here: it is loaded later
    check_generation_arguments(args.max_new_tokens, draft_model=args.draft_model, **settings)
    return settings


def load_model(directory, int8=False):
    """The model in a checkpoint directory; with int8, its int8 file if it has one (with the
    eos ids of the config.json and generation_config.json beside it), else its float weights
    quantised as they are loaded."""
    from .hf_checkpoint import CONFIG_FILE, SPECIAL_TOKEN_KEYS, read_config, \
        read_generation_config
    from .model import GPT
    if not (int8 and (Path(directory) / INT8_FILE).is_file()):
        model = GPT.from_pretrained(directory)
        return quantize_int8(model) if int8 else model
    model = load_int8(directory)
    settings = read_config(directory) if (Path(directory) / CONFIG_FILE).is_file() else {}
    model.special_token_ids = {key: settings[key] for key in SPECIAL_TOKEN_KEYS
                               if key in settings}
    model.generation_config = read_generation_config(directory)
    return model


def check_same_tokens(tokenizer, draft_tokenizer, args):
    """A ValueError unless the draft's tokenizer reads every id as the model's does."""
    token_id = first_different_token(tokenizer, draft_tokenizer)
    if token_id is not None:
        raise ValueError(f"--draft-model {args.draft_model} has another tokenizer than "
                         f"--model {args.model}: token {token_id} is "
                         f"{token_bytes(draft_tokenizer, token_id)!r} there and "
                         f"{token_bytes(tokenizer, token_id)!r} here; a draft must share the "
                         f"model's tokens")


def run_sample(args, out=None):
    out = out or sys.stdout
    settings = generation_settings(args)
    model = load_model(args.model, args.int8)
    tokenizer = load_tokenizer(args.model)
    stop = stop_ids(tokenizer, model)
    prompt = encode_prompt(tokenizer, args.prompt) if args.prompt else start_ids(tokenizer)
    if args.draft_model is not None:
        settings["draft_model"] = load_model(args.draft_model)
        check_draft_model(model, settings["draft_model"], len(prompt), args.max_new_tokens)
        check_same_tokens(tokenizer, load_tokenizer(args.draft_model), args)
    out.write(args.prompt)
    # Bytes of a character split across tokens wait until the character is complete.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stops = np.atleast_1d(stop if stop is not None else [])

    def show(token):                                 # token (1,): this step's new token
        if token[0] not in stops:
            out.write(decoder.decode(output_bytes(tokenizer, token)))
            out.flush()

    if settings["num_beams"] > 1:        # the best beam, written once the search is over
        best = model.generate(np.array([prompt]), args.max_new_tokens, eos_token_id=stop,
                              **settings)[0, len(prompt):]
        for token in best:
            show(token[None])
    else:
        model.generate(np.array([prompt]), args.max_new_tokens, eos_token_id=stop,
                       on_token=show, **settings)
    out.write(decoder.decode(b"", final=True) + "\n")
    return 0


# ----- quantize ------------------------------------------------------------------------------

def add_quantize_command(commands):
    p = commands.add_parser(
        "quantize", help="write a checkpoint's int8 weights beside its float ones",
        description=f"Quantise a checkpoint's weight matrices to int8 (one float32 scale per "
                    f"row) and write them to {INT8_FILE} in the same directory, which "
                    f"`sample --int8` then reads.")
    p.add_argument("--model", required=True, help="the checkpoint directory")
    p.add_argument("--keep-head", action="store_true",
                   help="leave the LM head (and an embedding tied to it) in float32")
    p.set_defaults(run=run_quantize, memory_advice=MODEL_TOO_LARGE)


def run_quantize(args, out=None):
    from .model import GPT
    from .quantize import save_int8, weight_bytes
    out = out or sys.stdout
    model = GPT.from_pretrained(args.model)
    quantized = quantize_int8(model, keep_head=args.keep_head)
    save_int8(quantized, args.model)
    out.write(f"{Path(args.model) / INT8_FILE}: weights {weight_bytes(model):,} bytes in "
              f"float32, {weight_bytes(quantized):,} in int8 "
              f"({weight_bytes(model) / weight_bytes(quantized):.2f}x smaller)\n")
    return 0


# ----- finetune-instruct ---------------------------------------------------------------------

def add_finetune_instruct_command(commands):
    from .finetune.train_instructions import InstructConfig as d
    p = commands.add_parser(
        "finetune-instruct", help="fine-tune a model to follow instructions (Alpaca template)",
        description="Fine-tune a pretrained GPT on instruction/input/output records with the "
                    "Alpaca template (85/5/10 split; examples longer than the context are "
                    "dropped and counted). Reports validation loss before and after, writes "
                    "the model, its tokenizer and greedy responses for the test split.")
    flag = p.add_argument
    flag("--model", required=True, help=PRETRAINED)
    flag("--data", required=True,
         help="a JSON list of {instruction, input, output} records")
    flag("--out", required=True, help="output directory (must be new or empty)")
    flag("--mask-prompt", action="store_true",
         help="ignore the prompt's targets in the loss: learn the response only")
    flag("--epochs", type=positive_int, default=d.epochs,
         help=f"passes over the training split (default {d.epochs})")
    flag("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    flag("--lora-rank", type=positive_int, default=None,
         help="train LoRA adapters of this rank (alpha = 2 x rank) instead of every weight; "
              "they are merged into the saved model")
    flag("--subset", type=positive_int, default=None,
         help="train on only the first N training examples (to check the model can learn)")
    flag("--seed", type=int, default=d.seed,
         help=f"seed for the split, the batch order and LoRA's init (default {d.seed})")
    flag("--batch-size", type=positive_int, default=d.batch_size,
         help=f"examples per batch (default {d.batch_size})")
    p.set_defaults(run=run_finetune_instruct, memory_advice=LOWER_BATCH_SIZE)


def run_finetune_instruct(args):
    from .finetune.train_instructions import InstructConfig, finetune_instruct
    finetune_instruct(InstructConfig(
        model=args.model, data=args.data, out=args.out, mask_prompt=args.mask_prompt,
        epochs=args.epochs, lr=args.lr, lora_rank=args.lora_rank, subset=args.subset,
        seed=args.seed, batch_size=args.batch_size))
    return 0


# ----- finetune-preference -------------------------------------------------------------------

def add_finetune_preference_command(commands):
    from .finetune.train_preferences import PreferenceConfig as d
    p = commands.add_parser(
        "finetune-preference", help="tune a model to prefer the chosen answers (DPO)",
        description="Direct Preference Optimization on instruction/input/chosen/rejected "
                    "records with the Alpaca template (85/5/10 split; a pair longer than the "
                    "context has its prompt cut from the left, and is dropped only when the "
                    "responses alone do not fit). The model as given is the frozen reference. "
                    "Reports the loss, reward margin and preference accuracy per epoch and on "
                    "the test split; writes the policy, its tokenizer and greedy answers to "
                    "the test prompts before and after.")
    flag = p.add_argument
    flag("--model", required=True,
         help="an instruction-tuned checkpoint directory with its tokenizer (the output of "
              "finetune-instruct)")
    flag("--data", required=True,
         help="a JSON list of {instruction, input, chosen, rejected} records")
    flag("--out", required=True, help="output directory (must be new or empty)")
    flag("--beta", type=float, default=d.beta,
         help=f"how far the policy may move from the reference: the scale of the implicit "
              f"rewards (default {d.beta})")
    flag("--epochs", type=positive_int, default=d.epochs,
         help=f"passes over the training pairs (default {d.epochs})")
    flag("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    flag("--batch-size", type=positive_int, default=d.batch_size,
         help=f"pairs per batch (default {d.batch_size})")
    flag("--lora-rank", type=positive_int, default=None,
         help="train LoRA adapters of this rank (alpha = 2 x rank) instead of every weight; "
              "they are merged into the saved model")
    flag("--seed", type=int, default=d.seed,
         help=f"seed for the split, the batch order and LoRA's init (default {d.seed})")
    p.set_defaults(run=run_finetune_preference, memory_advice=LOWER_BATCH_SIZE)


def run_finetune_preference(args):
    from .finetune.train_preferences import PreferenceConfig, finetune_preference
    finetune_preference(PreferenceConfig(
        model=args.model, data=args.data, out=args.out, beta=args.beta, epochs=args.epochs,
        lr=args.lr, batch_size=args.batch_size, lora_rank=args.lora_rank, seed=args.seed))
    return 0


# ----- finetune-classify and classify --------------------------------------------------------

def add_finetune_classify_command(commands):
    from .finetune.train_classifier import TRAINABLE_CHOICES
    from .finetune.train_classifier import ClassifyConfig as d
    p = commands.add_parser(
        "finetune-classify", help="fine-tune a model into a spam classifier",
        description="Fine-tune a pretrained GPT into a classifier of label<TAB>text lines "
                    "(ham/spam): ham is undersampled to balance the classes, then a seeded "
                    "70/10/20 split. Prints loss and accuracy on each split per epoch and "
                    "writes the classifier (in Hugging Face's layout for the model's family, "
                    "e.g. GPT2ForSequenceClassification or LlamaForSequenceClassification) and "
                    "its tokenizer.")
    flag = p.add_argument
    flag("--model", required=True, help=PRETRAINED)
    flag("--data", required=True, help="a header line, then label<TAB>text lines")
    flag("--out", required=True, help="output directory for the classifier (must be new)")
    # Counts are checked here (positive_int), as for finetune-instruct; ClassifyConfig checks
    # --trainable and --lr, with one-line errors.
    flag("--trainable", default=None,
         help=f"what trains: {', '.join(TRAINABLE_CHOICES)} (last-block = the last block, "
              f"ln_f and the head; default {d.trainable})")
    flag("--epochs", type=positive_int, default=d.epochs,
         help=f"passes over the training split (default {d.epochs})")
    flag("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    flag("--lora-rank", type=positive_int, default=None,
         help="train LoRA matrices of this rank (alpha = 2 x rank) in every block, and the "
              "head, instead of --trainable; they are merged into the saved classifier")
    flag("--seed", type=int, default=d.seed,
         help=f"seed for balancing, the split, the head, LoRA and the batch order "
              f"(default {d.seed})")
    flag("--batch-size", type=positive_int, default=d.batch_size,
         help=f"examples per batch (default {d.batch_size})")
    p.set_defaults(run=run_finetune_classify, memory_advice=LOWER_BATCH_SIZE)


def run_finetune_classify(args):
    from .finetune.train_classifier import ClassifyConfig, finetune_classifier
    if args.lora_rank is not None and args.trainable is not None:
        raise ValueError("--lora-rank trains the LoRA matrices and the head; it cannot be "
                         "combined with --trainable")
    finetune_classifier(ClassifyConfig(
        model=args.model, data=args.data, out=args.out,
        trainable=args.trainable or ClassifyConfig.trainable, epochs=args.epochs, lr=args.lr,
        lora_rank=args.lora_rank, seed=args.seed, batch_size=args.batch_size))
    return 0


def add_classify_command(commands):
    p = commands.add_parser(
        "classify", help="classify a text with a fine-tuned classifier",
        description="Print the most likely label of a text and its probability, e.g. "
                    "`spam 0.98`, using a directory written by finetune-classify.")
    p.add_argument("--model", required=True, help="a classifier directory")
    p.add_argument("--text", required=True, type=utf8_text, help="the text to classify")
    p.set_defaults(run=run_classify, memory_advice=MODEL_TOO_LARGE)


def run_classify(args, out=None):
    from .finetune.classifier import load_classifier
    from .finetune.train_classifier import predict_probabilities
    out = out or sys.stdout
    model, tokenizer = load_classifier(args.model)
    probabilities = predict_probabilities(model, tokenizer, [args.text])[0]    # (n_classes,)
    best = int(probabilities.argmax())
    out.write(f"{model.label_names[best]} {probabilities[best]:.2f}\n")
    return 0


# ----- attention -----------------------------------------------------------------------------

def add_attention_command(commands):
    p = commands.add_parser(
        "attention", help="show one head's attention weights for a text",
        description="Print the attention weights of one layer and head for a text as a "
                    "heatmap in the terminal (row i: how much token i looks at each token).")
    p.add_argument("--model", required=True, help="a checkpoint directory")
    p.add_argument("--text", required=True, type=utf8_text, help="the text to look at")
    p.add_argument("--layer", type=int, default=0, help="the block (default 0)")
    p.add_argument("--head", type=int, default=0, help="the head (default 0)")
    p.add_argument("--values", action="store_true", help="print the weights as numbers")
    p.add_argument("--svg", help="also write the map as an SVG image to this file")
    p.set_defaults(run=run_attention, memory_advice=MODEL_TOO_LARGE)


def run_attention(args, out=None):
    from .inspection.attention_maps import attention_weights
    from .model import GPT
    from .inspection.pictures import heatmap_svg, terminal_heatmap
    out = out or sys.stdout
    model = GPT.from_pretrained(args.model)
    tokenizer = load_tokenizer(args.model)
    ids = encode_prompt(tokenizer, args.text)
    if not ids:
        raise ValueError("the text is empty")
    if not 0 <= args.head < model.config.n_head:
        raise ValueError(f"head {args.head} does not exist: the model has heads 0 to "
                         f"{model.config.n_head - 1}")
    weights = attention_weights(model, np.array([ids]), args.layer)[0, args.head]   # (T, T)
    labels = [tokenizer.decode([i]) for i in ids]
    title = f"layer {args.layer}, head {args.head}"
    out.write(title + "\n" + "\n".join(terminal_heatmap(weights, labels, labels, args.values))
              + "\n")
    if args.svg:
        with atomic_write(args.svg) as f:
            f.write(heatmap_svg(weights, labels, labels, title).encode("utf-8"))
        out.write(f"wrote {args.svg}\n")
    return 0


# ----- lens ----------------------------------------------------------------------------------

def add_lens_command(commands):
    p = commands.add_parser(
        "lens", help="show what each depth of the model would predict next (the logit lens)",
        description="Read the residual stream after the embeddings and after every block "
                    "through the model's final norm and head, and print each depth's most "
                    "likely next tokens after the text, with their probabilities (the last "
                    "row is the model's own prediction).")
    p.add_argument("--model", required=True, help="a checkpoint directory")
    p.add_argument("--text", required=True, type=utf8_text, help="the text to continue")
    p.add_argument("--top", type=positive_int, default=5,
                   help="how many guesses to show at each depth (default 5)")
    p.set_defaults(run=run_lens, memory_advice=MODEL_TOO_LARGE)


def run_lens(args, out=None):
    import bpe
    from .inspection.lens import lens_table, logit_lens
    from .model import GPT
    out = out or sys.stdout
    model = GPT.from_pretrained(args.model)
    tokenizer = load_tokenizer(args.model)
    ids = encode_prompt(tokenizer, args.text)          # the checkpoint's template (BOS)
    if not ids:
        raise ValueError("the text is empty")
    lens = logit_lens(model, np.array([ids]))[:, 0, -1]             # (n_layer + 1, V)
    out.write(f"the next token after {bpe.render_token(args.text.encode('utf-8'))} "
              f"({len(ids)} tokens), read out after each depth; the last row is the "
              f"model's prediction\n")
    out.write("\n".join(lens_table(lens, tokenizer, args.top)) + "\n")
    return 0


# ----- explain -------------------------------------------------------------------------------

def port_number(text):
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {value}")
    return value


def add_explain_command(commands):
    p = commands.add_parser(
        "explain", help="serve a page that shows what a model does with a prompt",
        description="Serve a page, on this machine only unless --host says otherwise, that "
                    "shows for the model in --model how it reads a prompt: its tokens, the "
                    "attention of any layer and head, the logit lens, the next token's "
                    "distribution under temperature, top-k and top-p, and generation one "
                    "token at a time with the KV cache. Open the URL it prints; Ctrl-C stops.")
    p.add_argument("--model", required=True, help="a checkpoint directory")
    p.add_argument("--port", type=port_number, default=8000,
                   help="the port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 lets the whole network in, e.g. a class's laptops)")
    p.add_argument("--prompt", type=utf8_text, default=None,
                   help="the text the page opens with (default: a line from the start of "
                        "tiny Shakespeare)")
    p.set_defaults(run=run_explain, memory_advice=MODEL_TOO_LARGE)


def run_explain(args, out=None):
    from .inspection.explain import Explainer, ExplainServer
    out = out or sys.stdout
    if args.prompt == "":
        raise ValueError("--prompt is empty: give the text the page should open with")
    explainer = Explainer.from_directory(args.model, args.prompt)
    with ExplainServer(explainer, args.host, args.port) as server:
        out.write(f"Explaining {args.model} at {server.url} (Ctrl-C stops)\n")
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            out.write(f"Listening on {args.host}: other machines can open the page too\n")
        out.flush()
        server.serve_forever()
    return 0
