"""The command line: python -m bpe train | encode | decode | show.

    python -m bpe train --data input.txt --vocab-size 512 --out shakespeare.bpe
    echo "Hello world" | python -m bpe encode --model shakespeare.bpe
    echo "72 101 108" | python -m bpe decode --model shakespeare.bpe
    python -m bpe show --model shakespeare.bpe

--model takes a file written by `bpe train` (or `Tokenizer.save`), or a Hugging Face directory
(tokenizer.json, or GPT-2's vocab.json + merges.txt). A user's mistake (a missing file, a corpus that is not UTF-8, a
damaged model file, a bad id) gives one line on stderr and exit status 1, never a traceback:
the library raises exceptions, and this file is the only place that turns them into messages.
"""
import argparse
import errno
import json
import os
import sys
import time
import warnings

from bpe.files import from_pretrained
from bpe.hf_tokenizer import HFTokenizer
from bpe.patterns import PATTERNS_BY_NAME
from bpe.readable import render_merge
from bpe.tokenizer import load
from bpe.train import train


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.command(args)
    except BrokenPipeError:
        # the reader went away (as in `show ... | head`): nothing left to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError) as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the usage and then the error; we print only the error, on one line."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = OneLineErrorParser(prog="python -m bpe", description="A byte-level BPE tokenizer.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train_parser = commands.add_parser("train", help="learn merges from a UTF-8 text file")
    train_parser.add_argument("--data", required=True, help="the training text (UTF-8)")
    train_parser.add_argument("--vocab-size", type=int, required=True,
                              help="256 byte tokens + merges + special tokens")
    train_parser.add_argument("--out", required=True, help="where to write the tokenizer")
    train_parser.add_argument("--force", action="store_true",
                              help="replace the file --out if it exists (otherwise an error)")
    train_parser.add_argument("--pattern", choices=sorted(PATTERNS_BY_NAME), default="gpt4",
                              help="how text is pre-split into chunks (default: gpt4)")
    train_parser.add_argument("--special", action="append", default=[], metavar="TOKEN",
                              help="a special token, e.g. '<|endoftext|>' (repeatable)")
    train_parser.add_argument("--verbose", action="store_true", help="print progress")
    train_parser.set_defaults(command=run_train)

    encode_parser = commands.add_parser("encode", help="text on stdin -> ids on stdout")
    encode_parser.add_argument("--model", required=True)
    encode_parser.add_argument("--allow-special", action="store_true",
                               help="encode special tokens in the text as their ids "
                                    "(without this, their presence is an error)")
    encode_parser.set_defaults(command=run_encode)

    decode_parser = commands.add_parser("decode", help="ids on stdin -> text on stdout")
    decode_parser.add_argument("--model", required=True)
    decode_parser.set_defaults(command=run_decode)

    show_parser = commands.add_parser("show", help="print the merges as readable pieces")
    show_parser.add_argument("--model", required=True)
    show_parser.set_defaults(command=run_show)
    return parser


def run_train(args):
    check_output_file(args.out, args.data, args.force)
    text = decode_utf8(read_bytes(args.data), args.data)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = train(text, args.vocab_size, pattern=PATTERNS_BY_NAME[args.pattern],
                          special_tokens=args.special, verbose=args.verbose)
    for warning in caught:
        print(f"note: {warning.message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    tokenizer.save(args.out)
    print(f"learned {len(tokenizer.merges)} merges in {seconds:.2f} s "
          f"(vocabulary size {tokenizer.vocab_size}); wrote {args.out}")


def check_output_file(out, data, force):
    """Refuse an --out that training could not or should not write, now rather than after a
    long training run: a missing folder, a directory, the corpus itself, or (without --force)
    an existing file."""
    out_directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_directory):
        raise FileNotFoundError(errno.ENOENT, "No such directory", out_directory)
    if os.path.isdir(out):
        raise IsADirectoryError(errno.EISDIR, "--out is a directory, not a file", out)
    if not os.path.lexists(out):
        return
    if os.path.exists(data) and os.path.samefile(out, data):
        raise ValueError(f"--out {out} is the training text --data itself")
    if not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it, or choose "
                              f"another --out")


def run_encode(args):
    tokenizer = load_model(args.model)
    text = decode_utf8(sys.stdin.buffer.read(), "standard input")
    ids = tokenizer.encode(text, allowed_special="all" if args.allow_special else set())
    print(" ".join(str(token_id) for token_id in ids))


def run_decode(args):
    tokenizer = load_model(args.model)
    ids = parse_ids(sys.stdin.read())
    sys.stdout.buffer.write(tokenizer.decode(ids).encode("utf-8"))
    sys.stdout.flush()


def run_show(args):
    tokenizer = load_model(args.model)
    if isinstance(tokenizer, HFTokenizer):
        cut = f"read as transformers' {tokenizer.built_as}: {tokenizer.pre_tokenizer!r}, " \
              f"ignore_merges={tokenizer.ignore_merges}, {tokenizer.input_template}"
    else:
        cut = f"pattern: {json.dumps(tokenizer.pattern, ensure_ascii=False)}"
    print(f"# {len(tokenizer.merges)} merges, vocabulary size {tokenizer.vocab_size}, {cut}")
    for (left, right), merged_id in tokenizer.merges.items():
        pieces = render_merge(tokenizer.token_bytes(left), tokenizer.token_bytes(right))
        print(f"{merged_id}: {pieces}")
    added = {token_id: "special token" for token_id in tokenizer.special_tokens.values()}
    for token in tokenizer.added_tokens if isinstance(tokenizer, HFTokenizer) else []:
        added.setdefault(token.id, "added token")
    for token_id, kind in sorted(added.items()):
        text = tokenizer.token_bytes(token_id).decode("utf-8", errors="replace")
        print(f"{token_id}: {json.dumps(text, ensure_ascii=False)} ({kind})")


def load_model(path):
    """A directory is read as GPT-2 files, anything else as our own tokenizer file."""
    if os.path.isdir(path):
        return from_pretrained(path)
    return load(path)


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def decode_utf8(data, source):
    """Bytes to str, or a ValueError that says where the first bad byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{source} is not valid UTF-8: byte {data[err.start]:#04x} at offset "
                         f"{err.start} ({err.reason})") from None


def parse_ids(text):
    """Token ids separated by spaces, commas or newlines; "[1, 2, 3]" works too."""
    words = text.replace(",", " ").replace("[", " ").replace("]", " ").split()
    ids = []
    for word in words:
        if not (word.isascii() and word.isdigit()):
            raise ValueError(f"{word[:20]!r} is not a token id "
                             f"(expected whole numbers separated by spaces)")
        ids.append(int(word))
    return ids


def describe(err):
    """One line for an exception: the OS's reason and the file name for OSError."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
