"""Generation speed with and without the KV cache: tokens per second, greedy.

    python benchmarks/bench_generate.py                      # both models (a few minutes)
    python benchmarks/bench_generate.py --models small       # the small model only
    python benchmarks/bench_generate.py --repeats 5 --new-tokens 256 --prompt-tokens 32

Two models with random weights (`GPT(config, seed=0)`), one prompt of 32 random tokens, 256
new tokens, `model.generate(..., temperature=0, use_cache=True / False)`:
- small: 4 layers, 4 heads, 128 wide, block_size 512, vocab 65 (32 + 256 tokens fit in the
  context, so nothing slides and the cache is never rebuilt);
- 124M: GPT-2 small's shape, 12 layers, 12 heads, 768 wide, block_size 1024, vocab 50257.

Without the cache, step n runs the model over all 32 + n tokens again; with it, over the
newest token only, so the cache's advantage grows with the length generated. Targets: the
cache at least 5x faster than no cache at 256 tokens for the small model; for 124M, about 60
tokens/s with the cache on a 2-core machine in float32.

Times are the fastest of `--repeats` runs for the small model (the figure least disturbed by
the rest of the machine) and of one run for 124M (its uncached run alone takes minutes); the
load average is printed before and after, since other work on a 2-core machine slows
everything, and OpenBLAS's two threads especially.
Both runs must produce the same tokens: a cache that changed the output would be a bug.

qwen3-0.6b (`--models qwen3-0.6b`, also in the default run): Qwen3-0.6B's shape with random
weights (28 layers, 1024 wide, 16 query heads sharing 8 key/value heads of size 128, SwiGLU
3072, q/k norms, vocabulary 151,936, tied head: 596M parameters). Decoding one token reads
every weight once (the tied head whole, the embedding one row), so its speed is bounded by
memory bandwidth: the weight-streaming limit is the bandwidth of a large np.copyto (bytes read
plus bytes written per second, measured in the same run) divided by those bytes. It prints the
median time per decoded token after a 32-token prompt, tokens/s against that limit (target: at
least 80%), and the time and peak memory of loading the model from a bfloat16 checkpoint (as
Qwen ships it) in a fresh process.

Two more parts (`--parts cache,speculative,int8`; the last two need trained models):

    python benchmarks/bench_generate.py --parts speculative,int8 \
        --large runs/shakespeare-6 --draft runs/shakespeare-1

made by (about 25 and 5 minutes on a busy 2-core machine, one BLAS thread each):

    python -m gpt train --data ../shared/data/tinyshakespeare.txt --char --n-layer 6 \
        --n-head 4 --n-embd 128 --block-size 128 --batch-size 12 --max-iters 2000 \
        --dropout 0 --seed 1 --sample-tokens 0 --out runs/shakespeare-6
    (the same with --n-layer 1 --out runs/shakespeare-1)

- speculative: the 6-layer model decoding alone (the reference, timed in the same run) and
  with the 1-layer draft, `--draft-tokens` (2, 4, 6) at a time, greedy and at temperature 0.8:
  the speed-up (plain time / speculative time, each the best of `--repeats` rounds that
  time every variant in turn), the acceptance rate, the
  tokens per pass of the large model, and for greedy that the tokens are the same;
- int8: the 6-layer model against `quantize_int8` of it: the weights' bytes, the largest logit
  deviation and the mean loss on `--eval-windows` held-out windows (the last 10% of the text,
  as training split it), and greedy tokens/s (best of `--repeats`).

OpenBLAS's kernel (core type) and thread count are printed: OPENBLAS_CORETYPE, when this
machine sets it, picks an older kernel than the processor has (unset it and
OPENBLAS_L2_SIZE together, in that command alone, to time the native one).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
import tinytorch as tt  # noqa: E402
from bench_train import openblas_info  # noqa: E402  (this folder: the script's own path)
from gpt import GPT, GPTConfig  # noqa: E402
from gpt.data import split_ids  # noqa: E402
from gpt.quantize import quantize_int8, weight_bytes  # noqa: E402
from gpt.speculative import speculative_generate  # noqa: E402
from gpt.tokenizers import load_tokenizer  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
PARTS = ("cache", "speculative", "int8")

MODELS = {
    "small": dict(vocab_size=65, block_size=512, n_layer=4, n_head=4, n_embd=128),
    "124M": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
}
OPEN_MODELS = {
    "qwen3-0.6b": dict(vocab_size=151936, block_size=1024, n_layer=28, n_head=16, n_kv_head=8,
                       head_size=128, n_embd=1024, mlp_hidden=3072, norm="rmsnorm",
                       positions="rotary", mlp="swiglu", bias=False, qk_norm=True,
                       tie_embeddings=True, rope_theta=1000000.0),
}
STREAMING_TARGET = 0.8        # decoded tokens/s over the weight-streaming limit
SMALL_CACHE_TARGET = 5.0      # cached / uncached tokens per second, small model
GPT2_CACHED_REFERENCE = 60.0  # tokens/s with the cache, 124M, 2 cores, float32


def time_generate(model, prompt, new_tokens, use_cache, repeats):
    """(tokens, seconds): the output of one run and the fastest time of `repeats` runs."""
    best, tokens = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = model.generate(prompt, new_tokens, temperature=0, use_cache=use_cache)
        best = min(best, time.perf_counter() - start)
    return tokens, best


def copy_bandwidth(megabytes=512, repeats=5):
    """Bytes read plus bytes written per second by np.copyto of a large float32 array (the
    fastest of `repeats`): what streaming memory costs on this machine now."""
    source = np.ones(megabytes * 2 ** 20 // 4, dtype=np.float32)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best


def bytes_read_per_token(model):
    """The weight bytes one decoding step reads: every parameter, but one row of the token
    embedding (a tied head reads the embedding whole once more, as the output matrix)."""
    config = model.config
    embedding = model.transformer.wte.weight.data
    total = sum(p.data.nbytes for p in model.parameters()) - embedding.nbytes
    total += embedding[0].nbytes
    return total + (embedding.nbytes if config.tie_embeddings else 0)


def decode_seconds_per_token(model, prompt, new_tokens):
    """The median time between consecutive tokens of a greedy run with the KV cache: the cost
    of one decoding step, without the prompt's."""
    stamps = []
    model.generate(prompt, new_tokens, temperature=0,
                   on_token=lambda token: stamps.append(time.perf_counter()))
    return float(np.median(np.diff(stamps)))


LOAD_SCRIPT = """
import resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
from gpt import GPT
tracing = sys.argv[3] == "trace"
if tracing:
    tracemalloc.start()
start = time.perf_counter()
model = GPT.from_pretrained(sys.argv[1])
seconds = time.perf_counter() - start
allocated = tracemalloc.get_traced_memory()[1] if tracing else 0
params = sum(p.data.nbytes for p in model.parameters())
print(seconds, allocated, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, params)
"""


def load_figures(model):
    """{seconds, allocated, resident, params, file}: GPT.from_pretrained on `model` saved in
    bfloat16, in a fresh Python: the time (a run without tracing), the peak of the memory
    NumPy and Python allocated (tracemalloc, a second run), the peak resident memory (which
    also counts the file's pages while they are mapped: the kernel can drop those at any time)
    and the parameters' and the file's bytes."""
    figures = {}
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory, dtype="bfloat16")
        figures["file"] = (Path(directory) / "model.safetensors").stat().st_size
        for mode in ("time", "trace"):
            result = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, directory, str(ROOT),
                                     mode], capture_output=True, text=True, check=True)
            seconds, allocated, resident, params = result.stdout.split()
            if mode == "time":
                figures.update(seconds=float(seconds), resident=int(resident),
                               params=int(params))
            else:
                figures["allocated"] = int(allocated)
    return figures


def bench_open_model(name, prompt_tokens, new_tokens):
    config = GPTConfig(**OPEN_MODELS[name])
    start = time.perf_counter()
    model = GPT(config, seed=0)
    print(f"{name}: {model.num_parameters():,} parameters, built in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    prompt = np.random.default_rng(0).integers(0, config.vocab_size, size=(1, prompt_tokens))
    model.generate(prompt, 2, temperature=0)                    # warm up
    bandwidth = copy_bandwidth()
    per_token = bytes_read_per_token(model)
    seconds = decode_seconds_per_token(model, prompt, new_tokens)
    bandwidth = max(bandwidth, copy_bandwidth())               # before and after: the best
    limit = bandwidth / per_token
    print(f"{name}: copy bandwidth {bandwidth / 1e9:.1f} GB/s (read + written), "
          f"{per_token / 1e9:.2f} GB of weights read per token: limit {limit:.1f} tokens/s")
    print(f"{name}: {1 / seconds:.1f} tokens/s decoding with the cache ({seconds * 1e3:.1f} "
          f"ms/token, median of {new_tokens - 1}): {1 / seconds / limit:.0%} of the limit "
          f"(target >= {STREAMING_TARGET:.0%}): "
          f"{'ok' if 1 / seconds >= STREAMING_TARGET * limit else 'MISSED'}", flush=True)
    load = load_figures(model)
    largest = max(p.data.nbytes for p in model.parameters())
    print(f"{name}: loading its bfloat16 checkpoint ({load['file'] / 2 ** 30:.2f} GiB) takes "
          f"{load['seconds']:.1f} s; {load['params'] / 2 ** 30:.2f} GiB of float32 parameters, "
          f"{(load['allocated'] - load['params']) / 2 ** 20:.0f} MiB allocated beyond them at "
          f"the peak (the largest tensor: {largest / 2 ** 20:.0f} MiB); peak resident "
          f"{load['resident'] / 2 ** 30:.2f} GiB, the mapped file's pages included")


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_cache_part(args):
    """The KV cache: with and without it, on random models (the original benchmark)."""
    names = [name.strip() for name in args.models.split(",")]
    print(f"greedy, {args.prompt_tokens}-token prompt, {args.new_tokens} new tokens, float32\n")
    rows = []
    for name in names:
        if name in OPEN_MODELS:
            bench_open_model(name, args.prompt_tokens, min(args.new_tokens, 64))
            continue
        config = GPTConfig(**MODELS[name])
        model = GPT(config, seed=0)
        prompt = np.random.default_rng(0).integers(0, config.vocab_size,
                                                   size=(1, args.prompt_tokens))
        repeats = args.repeats if name == "small" else 1
        model.generate(prompt, 4, temperature=0)                 # warm up: allocations, caches
        cached, seconds_cached = time_generate(model, prompt, args.new_tokens, True, repeats)
        print(f"{name}: with the cache    {seconds_cached:8.2f} s", flush=True)
        uncached, seconds_uncached = time_generate(model, prompt, args.new_tokens, False, repeats)
        print(f"{name}: without the cache {seconds_uncached:8.2f} s", flush=True)
        rows.append((name, f"{model.num_parameters():,}", args.new_tokens / seconds_cached,
                     args.new_tokens / seconds_uncached, seconds_uncached / seconds_cached,
                     np.array_equal(cached, uncached)))

    print(f"\n{'model':6} {'parameters':>12} {'cache tok/s':>12} {'no cache tok/s':>15} "
          f"{'ratio':>7}  same tokens")
    for name, n_params, with_cache, without_cache, ratio, same in rows:
        print(f"{name:6} {n_params:>12} {with_cache:12.1f} {without_cache:15.1f} "
              f"{ratio:6.1f}x  {same}")
    for name, _, with_cache, _, ratio, same in rows:
        if name == "small":
            verdict = "ok" if ratio >= SMALL_CACHE_TARGET else "MISSED"
            print(f"small: cache {ratio:.1f}x faster than no cache (target >= "
                  f"{SMALL_CACHE_TARGET:.0f}x): {verdict}")
        if name == "124M":
            print(f"124M: {with_cache:.1f} tokens/s with the cache (about "
                  f"{GPT2_CACHED_REFERENCE:.0f} expected on 2 cores)")
        if not same:
            print(f"{name}: the cached and uncached runs gave DIFFERENT tokens")


def best_times(runs, repeats):
    """{name: (result of its last run, its fastest time in seconds)} for {name: run}: one run
    of each not timed (allocations, caches), then `repeats` rounds that time each run in
    turn, so that a busy moment of the machine slows them all, not one."""
    results = {name: run() for name, run in runs.items()}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (results[name], best[name]) for name in runs}


def held_out_windows(directory, count, length):
    """`count` evenly spaced windows (count, length) of the last 10% of tinyshakespeare, in
    the checkpoint's own tokens."""
    tokenizer = load_tokenizer(directory)
    _, held_out = split_ids(np.array(tokenizer.encode_ordinary(DATA.read_text("utf-8"))))
    starts = np.linspace(0, len(held_out) - length, count).astype(int)
    return np.stack([held_out[s:s + length] for s in starts]).astype(np.int64)


def run_speculative_part(args, large, draft):
    """The large model alone against the large model with the draft, same prompt."""
    prompt = held_out_windows(args.large, 1, args.prompt_tokens)
    new_tokens = min(args.new_tokens, large.config.block_size + 1 - args.prompt_tokens)
    print(f"large: {args.large}, {large.config.n_layer} layers, {large.num_parameters():,} "
          f"parameters; draft: {args.draft}, {draft.config.n_layer} layer(s), "
          f"{draft.num_parameters():,}")
    print(f"{args.prompt_tokens}-token held-out prompt, {new_tokens} new tokens, best of "
          f"{args.repeats}\n")
    print(f"{'sampling':>12} {'k':>3} {'plain tok/s':>12} {'spec tok/s':>11} {'speed-up':>9} "
          f"{'accepted':>9} {'tok/pass':>9}  same tokens as plain")
    for temperature in (0.0, 0.8):
        runs = {"plain": lambda: large.generate(prompt, new_tokens, temperature=temperature,
                                                seed=0)}
        for k in args.draft_tokens:
            runs[k] = (lambda k=k: speculative_generate(large, draft, prompt, new_tokens, k,
                                                        temperature=temperature, seed=0,
                                                        return_stats=True))
        timed = best_times(runs, args.repeats)
        plain, plain_seconds = timed.pop("plain")
        for k, ((out, stats), seconds) in timed.items():
            same = np.array_equal(out, plain) if temperature == 0 else "(sampled)"
            label = "greedy" if temperature == 0 else f"T={temperature}"
            print(f"{label:>12} {k:3} {new_tokens / plain_seconds:12.1f} "
                  f"{new_tokens / seconds:11.1f} {plain_seconds / seconds:8.2f}x "
                  f"{stats.acceptance_rate:9.2f} {stats.tokens_per_round:9.2f}  {same}",
                  flush=True)


def run_int8_part(args, large):
    """The large model against its int8 copy: memory, logits, held-out loss, speed."""
    quantized = quantize_int8(large)
    windows = held_out_windows(args.large, args.eval_windows, large.config.block_size + 1)
    with tt.no_grad():
        logits, loss = large(windows[:, :-1], windows[:, 1:])
        int8_logits, int8_loss = quantized(windows[:, :-1], windows[:, 1:])
    prompt = windows[:1, :args.prompt_tokens]
    new_tokens = min(args.new_tokens, large.config.block_size + 1 - args.prompt_tokens)
    timed = best_times({"float32": lambda: large.generate(prompt, new_tokens, temperature=0),
                        "int8": lambda: quantized.generate(prompt, new_tokens, temperature=0)},
                       args.repeats)
    float_seconds, int8_seconds = timed["float32"][1], timed["int8"][1]
    print(f"{args.large}: weights {weight_bytes(large):,} bytes float32, "
          f"{weight_bytes(quantized):,} int8 ({weight_bytes(large) / weight_bytes(quantized):.2f}x"
          f" smaller)")
    print(f"largest logit deviation over {windows.shape[0]} held-out windows of "
          f"{windows.shape[1] - 1} predictions: {np.abs(int8_logits.data - logits.data).max():.4f}")
    print(f"held-out loss: float32 {loss.item():.4f}, int8 {int8_loss.item():.4f}, change "
          f"{int8_loss.item() - loss.item():+.4f} nats (target: below 0.01)")
    print(f"greedy, {new_tokens} tokens: float32 {new_tokens / float_seconds:.1f} tokens/s, "
          f"int8 {new_tokens / int8_seconds:.1f} tokens/s ({float_seconds / int8_seconds:.2f}x "
          f"float32's speed)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="cache", help="comma-separated, from: "
                        + ", ".join(PARTS) + " (default cache)")
    parser.add_argument("--models", default="small,124M,qwen3-0.6b",
                        help="the cache part's models, comma-separated, from: "
                        + ", ".join([*MODELS, *OPEN_MODELS]))
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="runs timed; the fastest "
                        "counts (the cache part's 124M runs once)")
    parser.add_argument("--large", help="speculative, int8: the trained large model's directory")
    parser.add_argument("--draft", help="speculative: the trained draft model's directory")
    parser.add_argument("--draft-tokens", default="2,4,6",
                        help="speculative: tokens drafted per round, comma-separated")
    parser.add_argument("--eval-windows", type=int, default=200,
                        help="int8: held-out windows for the loss")
    args = parser.parse_args()
    parts = [part.strip() for part in args.parts.split(",")]
    for part in parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    for name in args.models.split(","):
        if name.strip() not in MODELS and name.strip() not in OPEN_MODELS:
            parser.error(f"unknown model {name!r}; choose from "
                         f"{', '.join([*MODELS, *OPEN_MODELS])}")
    if "speculative" in parts and not (args.large and args.draft):
        parser.error("the speculative part needs --large DIR and --draft DIR (see --help)")
    if "int8" in parts and not args.large:
        parser.error("the int8 part needs --large DIR (see --help)")
    args.draft_tokens = [int(k) for k in args.draft_tokens.split(",")]

    threads, core = openblas_info()
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, OpenBLAS {threads} threads, kernel "
          f"{core} (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')})")
    print(f"load average (1, 5, 15 min) at the start: {load_average()}")
    large = GPT.from_pretrained(args.large).eval() if args.large else None
    for part in parts:
        print(f"\n---- {part} " + "-" * 60)
        if part == "cache":
            run_cache_part(args)
        elif part == "speculative":
            run_speculative_part(args, large, GPT.from_pretrained(args.draft).eval())
        else:
            run_int8_part(args, large)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
