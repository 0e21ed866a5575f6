"""Time one full training step against its matmul floor and against PyTorch.

    python benchmarks/bench_train.py [--configs S,M] [--steps 50] [--torch-python PATH]

For each configuration it times, as the median over `--steps` steps after 5 warm-up steps:
- ours: `gpt.train.train_step`, the very step `python -m gpt train` runs (forward, loss,
  backward, clip the gradient norm at 1.0, AdamW with betas (0.9, 0.99) and weight decay 0.1
  on 2-D weights), on random batches;
- the floor: the step's matrix products alone (the same shapes and layouts, forward and
  backward) as bare NumPy calls;
- PyTorch (with --torch-python, a Python that has torch): ../shared/bench/torch_gpt.py,
  unchanged, at its default thread count, on the same shapes.
Each measurement runs in a fresh process, which also reports its peak memory (max RSS); ours
and the floor both run with `tinytorch.memory.keep_freed_memory()`, as the training command does.
Ratios are ours / floor and ours / PyTorch; thread counts and OpenBLAS's core type are printed.
"""
import argparse
import ctypes
import glob
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_SCRIPT = ROOT.parent / "shared" / "bench" / "torch_gpt.py"
CONFIGS = {
    "S": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, vocab_size=65),
    "M": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=8, vocab_size=65),
}


def openblas_info():
    """(threads, core type) of the OpenBLAS that NumPy uses, read from the library itself."""
    import numpy as np
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    if not libs:
        return "?", "?"
    lib = ctypes.CDLL(libs[0])
    threads = corename = None
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", ""):
            get_threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            get_core = getattr(lib, f"{prefix}_get_corename{suffix}", None)
            if get_threads and get_core:
                get_core.restype = ctypes.c_char_p
                threads, corename = get_threads(), get_core().decode()
    return threads, corename


def time_ours(name, steps):
    """Median ms per train_step, in this process."""
    import numpy as np

    from gpt import GPT
    from gpt.train import TrainConfig, make_optimizer, train_step
    c = CONFIGS[name]
    config = TrainConfig(n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"],
                         block_size=c["block_size"], batch_size=c["batch_size"], char=True)
    model = GPT(config.model_config(c["vocab_size"]), seed=0)
    optimizer = make_optimizer(model, config)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, c["vocab_size"], 200_000).astype(np.uint16)
    times = []
    for step in range(steps + 5):
        start = time.perf_counter()
        train_step(model, optimizer, ids, config, rng)
        if step >= 5:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def matmul_shapes(c):
    """(a_shape, b_shape, transpose_b) of every matrix product in one step, forward and
    backward, in the layouts the model uses: x @ W^T with W (out, in), batched attention."""
    B, T, C, H, V = c["batch_size"], c["block_size"], c["n_embd"], c["n_head"], c["vocab_size"]
    N, D = B * T, C // H
    products = []

    def linear(n_in, n_out):        # y = x W^T; dx = g W; dW = g^T x
        products.extend([((N, n_in), (n_out, n_in), True), ((N, n_out), (n_out, n_in), False),
                         ((n_out, N), (N, n_in), False)])

    def batched(n, k, m):           # y = a b; da = g b^T; db = a^T g
        products.extend([((B, H, n, k), (B, H, k, m), False), ((B, H, n, m), (B, H, m, k), False),
                         ((B, H, k, n), (B, H, n, m), False)])

    for _ in range(c["n_layer"]):
        linear(C, 3 * C)
        batched(T, D, T)            # scores = q k^T
        batched(T, T, D)            # out = att v
        linear(C, C)
        linear(C, 4 * C)
        linear(4 * C, C)
    linear(C, V)                    # the tied LM head
    return products


def time_floor(name, steps):
    """Median ms for the step's matrix products alone, bare NumPy."""
    import numpy as np
    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal(a).astype(np.float32),
                 rng.standard_normal(b).astype(np.float32), transpose)
                for a, b, transpose in matmul_shapes(CONFIGS[name])]
    times = []
    for step in range(steps + 5):
        start = time.perf_counter()
        for a, b, transpose in operands:
            _ = a @ (b.T if transpose else b)
        if step >= 5:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def child(kind, name, steps):
    """Run one measurement in this (fresh) process and print it as JSON."""
    sys.path.insert(0, str(ROOT))
    import tinytorch
    # As `python -m gpt train` does, for ours and for the floor alike (see tinytorch/memory.py)
    tinytorch.memory.keep_freed_memory()
    ms = time_ours(name, steps) if kind == "ours" else time_floor(name, steps)
    threads, core = openblas_info()
    print(json.dumps({"ms": ms, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "threads": threads, "core": core}))


TORCH_WRAPPER = """
import resource, runpy, sys, torch
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
print("threads=%d peak_mb=%.1f" % (torch.get_num_threads(),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def run_torch(python, name, steps):
    c = CONFIGS[name]
    args = [python, "-c", TORCH_WRAPPER, str(TORCH_SCRIPT), "--layers", str(c["n_layer"]),
            "--heads", str(c["n_head"]), "--embd", str(c["n_embd"]), "--ctx", str(c["block_size"]),
            "--batch", str(c["batch_size"]), "--vocab", str(c["vocab_size"]), "--steps", str(steps)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    fields = dict(part.split("=") for line in out.split("\n") for part in line.split() if "=" in part)
    return {"ms": float(fields["ms_per_step"]), "peak_mb": float(fields["peak_mb"]),
            "threads": int(fields["threads"])}


def run_child(kind, name, steps):
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--configs", name,
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="S,M")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--torch-python", help="a Python with torch installed")
    parser.add_argument("--child", choices=["ours", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.configs, args.steps)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    for name in args.configs.split(","):
        steps = args.steps if name == "S" else max(10, args.steps // 5)
        ours, floor = run_child("ours", name, steps), run_child("floor", name, steps)
        print(f"\n{name}: {CONFIGS[name]}  (median of {steps} steps)")
        print(f"  ours    {ours['ms']:8.1f} ms/step  peak {ours['peak_mb']:7.1f} MB  "
              f"OpenBLAS {ours['threads']} threads, core {ours['core']}")
        print(f"  floor   {floor['ms']:8.1f} ms/step  (the step's matmuls alone, bare NumPy)  "
              f"ours / floor = {ours['ms'] / floor['ms']:.2f}x")
        if args.torch_python:
            torch = run_torch(args.torch_python, name, steps)
            print(f"  PyTorch {torch['ms']:8.1f} ms/step  peak {torch['peak_mb']:7.1f} MB  "
                  f"{torch['threads']} threads  ours / PyTorch = {ours['ms'] / torch['ms']:.2f}x")


if __name__ == "__main__":
    main()
