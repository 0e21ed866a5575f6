"""Benchmark bpe on tiny Shakespeare: training time, encoding throughput, long inputs.

    python benchmarks/bench_bpe.py            # everything (the naive trainer takes a minute or two)
    python benchmarks/bench_bpe.py --quick    # the naive trainer on the first 100 kB only

Targets on the 2-core machine: training to vocab 512 in at most 1.5 s and to 4096 in at most
3 s; encoding with cl100k's ranks at 3 MB/s or more (tiktoken, in Rust, does about 9);
"a" * 100_000 and 10,000 emoji well under a second each. Reference figures come from the same
run: the textbook trainer (bpe.train_naive) for training, and tiktoken if it happens to be
installed (it is never a dependency of the project).
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
import bpe  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def timed(function, *args, repeat=1, **kwargs):
    """(result, seconds): the fastest of `repeat` calls. The fastest is the figure least
    disturbed by whatever else the machine was doing."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def fresh_cl100k(rank_file, cases):
    """A new cl100k tokenizer: its chunk cache starts empty."""
    return bpe.from_tiktoken(rank_file, cases["pattern"], cases["special_tokens"])


def encode_cold(rank_file, cases, text):
    """Seconds to encode `text` with an empty cache (the fastest of three fresh tokenizers)."""
    best = float("inf")
    for _ in range(3):
        tokenizer = fresh_cl100k(rank_file, cases)
        ids, seconds = timed(tokenizer.encode_ordinary, text)
        best = min(best, seconds)
    return tokenizer, ids, best


def verdict(ok):
    return "ok" if ok else "MISSED"


def bench_training(text, quick):
    print(f"== training on tinyshakespeare ({len(text.encode('utf-8')):,} bytes, GPT-4 pattern) ==")
    fast = {}
    for vocab_size, target in ((512, 1.5), (4096, 3.0)):
        fast[vocab_size], seconds = timed(bpe.train, text, vocab_size, repeat=3)
        print(f"bpe.train        vocab {vocab_size:5}: {seconds:6.2f} s   "
              f"(target <= {target} s: {verdict(seconds <= target)})")

    naive_text = text[:100_000] if quick else text
    label = "first 100 kB" if quick else "whole text"
    fast_on_same, fast_seconds = timed(bpe.train, naive_text, 512, repeat=3)
    naive, naive_seconds = timed(bpe.train_naive, naive_text, 512)
    same = list(naive.merges.items()) == list(fast_on_same.merges.items())
    print(f"bpe.train_naive  vocab   512: {naive_seconds:6.2f} s   ({label}; "
          f"bpe.train {fast_seconds:.2f} s on the same text: {naive_seconds / fast_seconds:.0f}x "
          f"faster; identical merges: {same})")


def bench_encoding(text):
    with open(DATA / "cl100k_cases.json", encoding="utf-8") as file:
        cases = json.load(file)
    rank_file = DATA / "cl100k_base.tiktoken"
    _, load_seconds = timed(fresh_cl100k, rank_file, cases)
    megabytes = len(text.encode("utf-8")) / 1e6
    print(f"\n== encoding tinyshakespeare with cl100k_base ({megabytes:.2f} MB), "
          f"fastest of 3 runs ==")
    print(f"load the rank file:             {load_seconds:6.2f} s")
    cl100k, ids, cold = encode_cold(rank_file, cases, text)
    print(f"encode, empty chunk cache:      {cold:6.2f} s = {megabytes / cold:5.1f} MB/s "
          f"(target >= 3 MB/s: {verdict(megabytes / cold >= 3)}), {len(ids):,} tokens")
    _, warm = timed(cl100k.encode_ordinary, text, repeat=3)
    print(f"encode again, warm cache:       {warm:6.2f} s = {megabytes / warm:5.1f} MB/s")
    try:
        import tiktoken
    except ImportError:
        print("tiktoken:                       not installed (about 9 MB/s on this machine)")
    else:
        encoding = tiktoken.get_encoding("cl100k_base")
        reference, seconds = timed(encoding.encode_ordinary, text, repeat=3)
        print(f"tiktoken:                       {seconds:6.2f} s = {megabytes / seconds:5.1f} MB/s "
              f"(same ids: {reference == ids})")

    print("\n== long repetitive inputs (one chunk each) ==")
    for name, long_text in (('"a" * 100_000', "a" * 100_000), ('"👍" * 10_000', "👍" * 10_000)):
        long_ids, seconds = timed(cl100k.encode, long_text, repeat=3)
        correct = cl100k.decode(long_ids) == long_text
        print(f"cl100k encode {name}: {seconds:5.2f} s, {len(long_ids):,} tokens, "
              f"round trip {correct}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="time the naive trainer on the first 100 kB instead of everything")
    args = parser.parse_args()
    corpus = DATA / "tinyshakespeare.txt"
    if not corpus.is_file():
        print(f"error: {corpus} not found (the reference data lives in ../shared/data)",
              file=sys.stderr)
        return 1
    text = corpus.read_text(encoding="utf-8")
    warnings.simplefilter("error")  # training stopping early would make the figures meaningless
    bench_training(text, args.quick)
    bench_encoding(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
