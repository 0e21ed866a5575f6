"""Time one full training step against its matmul floor and against PyTorch, on an idle
machine and (with --busy) beside a CPU-bound process.

    python benchmarks/bench_train.py [--configs S,M] [--steps 50] [--rounds 3]
                                     [--torch-python PATH] [--busy]

Three measurements per configuration, each in a fresh process that also reports its peak
memory (max RSS), as the median over `--steps` steps after 5 warm-up steps:
- ours: `gpt.train.train_step`, the very step `python -m gpt train` runs (forward, loss,
  backward, clip the gradient norm at 1.0, AdamW with betas (0.9, 0.99) and weight decay 0.1
  on 2-D weights), on random batches. Nothing is set up for it beyond what the library does
  itself (the optimizer keeps freed memory, tinytorch.blas picks the threads);
- a user's own loop: the same step written by hand with tinytorch alone, as the optimizer's
  documentation writes it (GPT, AdamW, zero_grad, backward, clip_grad_norm_, step), to show
  that it runs as fast as the command's step;
- the floor: the step's matrix products alone (the same shapes and layouts, forward and
  backward) as bare NumPy calls, at NumPy's own thread count, with freed memory kept; and
  the same products through tinytorch.blas.matmul, on the threads it chooses (one for
  products under tinytorch.blas.SINGLE_THREAD_BELOW): ours over this one is what the
  library adds around its products, ours over the first also what its thread choice costs
  on an idle machine;
- PyTorch (with --torch-python, a Python that has torch): ../shared/bench/torch_gpt.py,
  unchanged, at its default thread count, on the same shapes.
They alternate, `--rounds` times, so that a disturbance of the machine falls on all of
them; each figure is the median of its rounds. Ratios are ours / floor and ours / PyTorch.

--busy also measures ours and PyTorch with one CPU-bound process running beside them (the
benchmark starts it, a Python loop, and stops it after each measurement), alternating with
the quiet measurements, and prints busy / quiet for both.

OpenBLAS's thread count and kernel are printed as the library reports them. On a machine
that forces an older kernel (OPENBLAS_CORETYPE=Haswell on an AVX-512 machine), run it both
as it is and with `env -u OPENBLAS_CORETYPE python benchmarks/bench_train.py ...`.
"""
import argparse
import contextlib
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
WARMUP = 5


def openblas_info():
    """(threads, core type) of the OpenBLAS that NumPy uses, read from the library itself."""
    import ctypes

    from tinytorch.blas import _openblas_paths, openblas_threads
    found = openblas_threads()
    if found is None:
        return "?", "not OpenBLAS"
    for path in _openblas_paths():
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            get_core = getattr(lib, name, None)
            if get_core is not None:
                get_core.restype = ctypes.c_char_p
                return found[0](), get_core().decode()
    return found[0](), "?"


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
    for step in range(steps + WARMUP):
        start = time.perf_counter()
        train_step(model, optimizer, ids, config, rng)
        if step >= WARMUP:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_user_loop(name, steps):
    """Median ms per step of a training loop written by hand, tinytorch's API only."""
    import numpy as np

    import tinytorch as tt
    from gpt import GPT, GPTConfig
    c = CONFIGS[name]
    model = GPT(GPTConfig(vocab_size=c["vocab_size"], block_size=c["block_size"],
                          n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"]), seed=0)
    optimizer = tt.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99),
                               weight_decay=0.1)
    rng = np.random.default_rng(0)
    B, T = c["batch_size"], c["block_size"]
    times = []
    for step in range(steps + WARMUP):
        x, y = rng.integers(0, c["vocab_size"], (2, B, T))
        start = time.perf_counter()
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= WARMUP:
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


def time_floor(name, steps, product=None):
    """Median ms for the step's matrix products alone, bare NumPy (or `product(a, b)`)."""
    import numpy as np
    product = product or np.matmul
    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal(a).astype(np.float32),
                 rng.standard_normal(b).astype(np.float32), transpose)
                for a, b, transpose in matmul_shapes(CONFIGS[name])]
    times = []
    for step in range(steps + WARMUP):
        start = time.perf_counter()
        for a, b, transpose in operands:
            _ = product(a, b.T if transpose else b)
        if step >= WARMUP:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def child(kind, name, steps):
    """Run one measurement in this (fresh) process and print it as JSON."""
    sys.path.insert(0, str(ROOT))
    import tinytorch
    if "floor" in kind:            # ours gets this from its optimizer; bare NumPy needs asking
        tinytorch.memory.keep_freed_memory()
    if kind == "blas_floor":
        ms = time_floor(name, steps, tinytorch.blas.matmul)
    else:
        ms = {"ours": time_ours, "loop": time_user_loop, "floor": time_floor}[kind](name, steps)
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


@contextlib.contextmanager
def cpu_hog():
    """One CPU-bound process beside the measurement (a laptop's browser, say), stopped after."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)                # let it get going
        yield
    finally:
        hog.kill()
        hog.wait()


def measure(kinds, name, steps, torch_python):
    """{kind: result} for one round; kinds from "ours", "floor", "torch"."""
    results = {}
    for kind in kinds:
        results[kind] = (run_torch(torch_python, name, steps) if kind == "torch"
                         else run_child(kind, name, steps))
    return results


def summary(rounds, kind):
    """The median of a kind's per-round figures, its largest peak memory, its last details."""
    runs = [r[kind] for r in rounds]
    return {**runs[-1], "ms": statistics.median(r["ms"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs), "all": [r["ms"] for r in runs]}


def report(name, steps, quiet, busy):
    ours, floor = summary(quiet, "ours"), summary(quiet, "floor")
    print(f"\n{name}: {CONFIGS[name]}  (median of {steps} steps, median of {len(quiet)} rounds)")
    print(f"  ours    {ours['ms']:8.1f} ms/step  peak {ours['peak_mb']:7.1f} MB  "
          f"OpenBLAS {ours['threads']} threads, core {ours['core']}  rounds {_rounds(ours)}")
    loop = summary(quiet, "loop")
    print(f"  loop    {loop['ms']:8.1f} ms/step  peak {loop['peak_mb']:7.1f} MB  (the same step "
          f"written by hand)  loop / ours = {loop['ms'] / ours['ms']:.2f}x  rounds {_rounds(loop)}")
    print(f"  floor   {floor['ms']:8.1f} ms/step  (the step's matmuls alone, bare NumPy)  "
          f"ours / floor = {ours['ms'] / floor['ms']:.2f}x  rounds {_rounds(floor)}")
    blas_floor = summary(quiet, "blas_floor")
    print(f"  floor   {blas_floor['ms']:8.1f} ms/step  (the same through tinytorch.blas, its "
          f"threads)  ours / this floor = {ours['ms'] / blas_floor['ms']:.2f}x  "
          f"rounds {_rounds(blas_floor)}")
    torch = summary(quiet, "torch") if "torch" in quiet[0] else None
    if torch:
        print(f"  PyTorch {torch['ms']:8.1f} ms/step  peak {torch['peak_mb']:7.1f} MB  "
              f"{torch['threads']} threads  ours / PyTorch = {ours['ms'] / torch['ms']:.2f}x  "
              f"rounds {_rounds(torch)}")
    if busy:
        ours_busy = summary(busy, "ours")
        line = (f"  busy (one CPU-bound process beside it): ours {ours_busy['ms']:.1f} ms/step, "
                f"busy / quiet = {ours_busy['ms'] / ours['ms']:.2f}x")
        if torch:
            torch_busy = summary(busy, "torch")
            line += (f"; PyTorch {torch_busy['ms']:.1f} ms/step, busy / quiet = "
                     f"{torch_busy['ms'] / torch['ms']:.2f}x")
        print(line + f"  rounds {_rounds(ours_busy)}")


def _rounds(result):
    return "/".join(f"{ms:.1f}" for ms in result["all"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="S,M")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-python", help="a Python with torch installed")
    parser.add_argument("--busy", action="store_true",
                        help="also measure beside one CPU-bound process")
    parser.add_argument("--child", choices=["ours", "loop", "floor", "blas_floor"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.configs, args.steps)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"{os.cpu_count()} CPUs")
    for name in args.configs.split(","):
        steps = args.steps if name == "S" else max(10, args.steps // 5)
        kinds = ["ours", "loop", "floor", "blas_floor"] + (["torch"] if args.torch_python
                                                            else [])
        quiet, busy = [], []
        for _ in range(args.rounds):
            quiet.append(measure(kinds, name, steps, args.torch_python))
            if args.busy:
                with cpu_hog():
                    busy.append(measure([k for k in kinds if k in ("ours", "torch")], name,
                                        steps, args.torch_python))
        report(name, steps, quiet, busy)


if __name__ == "__main__":
    main()
