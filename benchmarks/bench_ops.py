"""Benchmark the autograd engine's overhead over bare NumPy.

    python benchmarks/bench_ops.py            # everything (about half a minute)
    python benchmarks/bench_ops.py --quick    # fewer repeats, matmuls up to 1024

Three figures, each against NumPy doing the same arithmetic in the same run:
1. per-op overhead on small (8x8 float32) tensors: what wrapping an op in a `Function`, making
   its graph node and its output `Tensor` adds. Target: at most 3 microseconds per op.
2. forward + backward of a small expression against the same forward and backward written by
   hand in NumPy: the overhead of the backward walk per op.
3. matmul throughput through the engine as a fraction of NumPy's for 512, 1024 and 2048 square
   float32 matrices, forward alone and forward + backward. Target: at least 95%.
4. each fused kernel against its composed twin (tinytorch.functional.composed), forward +
   backward at a small model's shapes, float32: the speed-up fusing buys. Grouped-query
   attention is also timed against the same fused kernel on keys and values repeated first.
   Both sides run on one OpenBLAS thread, so the figure is fusion's alone: the fused kernels
   choose a thread count per product (tinytorch.blas) where the composed ops use NumPy's `@`.

Times are the fastest of several repeats (the figure least disturbed by the rest of the
machine); measurements of the engine and of NumPy alternate, so both see the same conditions.

The allocator matters for forward + backward at 512: the engine's backward allocates a few
fresh 1 MB arrays (the incoming gradient's copy, each leaf's .grad), and glibc's malloc hands
such memory back to the system and page-faults it in again on every step. The run therefore
keeps freed memory for reuse, `tinytorch.memory.keep_freed_memory()`, as `gpt train` does; it
applies to the process, so NumPy's side runs with it too. `--glibc-defaults` leaves it off.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
import tinytorch as tt  # noqa: E402
import tinytorch.functional as F  # noqa: E402
from tinytorch.blas import openblas_threads  # noqa: E402
from tinytorch.functional import composed  # noqa: E402

OVERHEAD_TARGET_US = 3.0
THROUGHPUT_TARGET = 0.95


def best_seconds(function, number, repeat):
    """The fastest average over `number` calls, out of `repeat` rounds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def compare(engine, numpy, number, repeat):
    """(engine seconds, numpy seconds), measured in alternating rounds."""
    engine_best = numpy_best = float("inf")
    for _ in range(repeat):
        engine_best = min(engine_best, best_seconds(engine, number, 1))
        numpy_best = min(numpy_best, best_seconds(numpy, number, 1))
    return engine_best, numpy_best


def verdict(ok):
    return "ok" if ok else "MISSED"


def bench_per_op(repeat):
    print("== 1. per-op overhead, 8x8 float32 (microseconds per call) ==")
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((8, 8)).astype(np.float32)
    b_np = rng.standard_normal((8, 8)).astype(np.float32)
    a, b = tt.tensor(a_np, requires_grad=True), tt.tensor(b_np, requires_grad=True)
    a_const, b_const = tt.tensor(a_np), tt.tensor(b_np)       # no gradient: no graph recorded
    index = (slice(2, 6), slice(None))
    cases = [
        ("add", lambda x, y: x + y, lambda: a_np + b_np),
        ("mul", lambda x, y: x * y, lambda: a_np * b_np),
        ("exp", lambda x, y: x.exp(), lambda: np.exp(a_np)),
        ("tanh", lambda x, y: x.tanh(), lambda: np.tanh(a_np)),
        ("matmul", lambda x, y: x @ y, lambda: a_np @ b_np),
        ("sum", lambda x, y: x.sum(), lambda: a_np.sum()),
        ("sum(dim=1)", lambda x, y: x.sum(dim=1), lambda: a_np.sum(axis=1)),
        ("mean", lambda x, y: x.mean(), lambda: a_np.mean()),
        ("reshape", lambda x, y: x.reshape(64), lambda: a_np.reshape(64)),
        ("transpose", lambda x, y: x.transpose(0, 1), lambda: a_np.swapaxes(0, 1)),
        ("getitem", lambda x, y: x[index], lambda: a_np[index]),
    ]
    print(f"{'op':12} {'numpy':>8} {'engine':>8} {'added':>8} {'ratio':>7}   "
          f"{'no grad':>8} {'added':>7}")
    worst = 0.0
    number = 10_000
    for name, op, bare in cases:
        engine, numpy = compare(lambda: op(a, b), bare, number, repeat)
        no_grad, _ = compare(lambda: op(a_const, b_const), bare, number, repeat)
        added = (engine - numpy) * 1e6
        worst = max(worst, added)
        print(f"{name:12} {numpy * 1e6:8.2f} {engine * 1e6:8.2f} {added:8.2f} "
              f"{engine / numpy:6.1f}x   {no_grad * 1e6:8.2f} {(no_grad - numpy) * 1e6:7.2f}")
    print(f"most added by one op, recording the graph: {worst:.2f} us "
          f"(target <= {OVERHEAD_TARGET_US:.0f} us: {verdict(worst <= OVERHEAD_TARGET_US)})")


def bench_forward_backward(repeat):
    print("\n== 2. forward + backward: y = sum(tanh(a @ b + c) * d), 8x8 float32 ==")
    rng = np.random.default_rng(1)
    a_np, b_np, c_np, d_np = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(4))
    params = [tt.tensor(x, requires_grad=True) for x in (a_np, b_np, c_np, d_np)]

    def engine():
        a, b, c, d = params
        for p in params:
            p.grad = None
        ((a @ b + c).tanh() * d).sum().backward()

    def by_hand():
        # The same five ops forward and their gradients, in plain NumPy.
        h = a_np @ b_np + c_np
        t = np.tanh(h)
        _ = (t * d_np).sum()
        grad_t = d_np                                   # d y / d t (the sum passes 1 through)
        grad_d = t
        grad_h = grad_t * (1.0 - t * t)
        return grad_h @ b_np.T, a_np.T @ grad_h, grad_h, grad_d

    engine_s, numpy_s = compare(engine, by_hand, 5_000, repeat)
    ops = 5
    print(f"NumPy by hand {numpy_s * 1e6:7.2f} us, engine {engine_s * 1e6:7.2f} us, "
          f"{engine_s / numpy_s:.1f}x; added per op (forward and backward together): "
          f"{(engine_s - numpy_s) * 1e6 / ops:.2f} us")
    a, b, c, d = params
    assert np.allclose(a.grad, by_hand()[0], rtol=1e-5, atol=1e-6)   # same arithmetic


def bench_matmul(sizes, repeat):
    print("\n== 3. matmul throughput through the engine, float32 ==")
    print(f"{'size':>10} {'pass':>17} {'numpy ms':>9} {'engine ms':>10} {'GFLOP/s':>8} "
          f"{'fraction':>9}")
    worst = 1.0
    rng = np.random.default_rng(2)
    for n in sizes:
        a_np = rng.standard_normal((n, n)).astype(np.float32)
        b_np = rng.standard_normal((n, n)).astype(np.float32)
        grad_np = rng.standard_normal((n, n)).astype(np.float32)
        a, b = tt.tensor(a_np, requires_grad=True), tt.tensor(b_np, requires_grad=True)

        def backward_pass():
            a.grad = b.grad = None
            (a @ b).backward(grad_np)

        def numpy_backward_pass():
            _ = a_np @ b_np
            return grad_np @ b_np.T, a_np.T @ grad_np

        for label, engine, numpy, flops in [
                ("forward", lambda: a @ b, lambda: a_np @ b_np, 2 * n ** 3),
                ("forward+backward", backward_pass, numpy_backward_pass, 6 * n ** 3)]:
            number = max(1, int(5e10 // flops))        # about a quarter second per round
            engine_s, numpy_s = compare(engine, numpy, number, repeat)
            fraction = numpy_s / engine_s
            worst = min(worst, fraction)
            print(f"{n:>4}x{n:<5} {label:>17} {numpy_s * 1e3:9.2f} {engine_s * 1e3:10.2f} "
                  f"{flops / engine_s / 1e9:8.1f} {fraction:8.1%}")
    print(f"lowest fraction of NumPy's throughput: {worst:.1%} "
          f"(target >= {THROUGHPUT_TARGET:.0%}: {verdict(worst >= THROUGHPUT_TARGET)})")


def on_one_thread(function, *args):
    """function(*args) with OpenBLAS (where NumPy uses it) on one thread, restored after."""
    threads = openblas_threads()
    if threads is None:
        return function(*args)
    get_threads, set_threads = threads
    before = get_threads()
    set_threads(1)
    try:
        return function(*args)
    finally:
        set_threads(before)


def bench_kernels(repeat):
    B, T, C, H, H_KV, D, HIDDEN = 8, 128, 256, 8, 2, 32, 688
    print(f"\n== 4. fused kernels against their composed twins, forward + backward, float32 ==\n"
          f"(B, T, C) = ({B}, {T}, {C}); attention heads {H} over {H_KV} key/value heads of "
          f"{D}; MLP hidden {HIDDEN}")
    rng = np.random.default_rng(3)

    def leaves(*shapes):
        return [tt.tensor(rng.standard_normal(shape).astype(np.float32) * 0.5,
                          requires_grad=True) for shape in shapes]

    angles = np.arange(T)[:, None] * 10000.0 ** (-np.arange(D // 2) * 2.0 / D)
    cos = np.cos(np.concatenate([angles, angles], 1)).astype(np.float32)
    sin = np.sin(np.concatenate([angles, angles], 1)).astype(np.float32)
    cases = [
        ("layer_norm", lambda m, x, w, b: m.layer_norm(x, C, w, b), [(B, T, C), (C,), (C,)]),
        ("rms_norm", lambda m, x, w: m.rms_norm(x, C, w, 1e-5), [(B, T, C), (C,)]),
        ("gelu", lambda m, x: m.gelu(x), [(B, T, 4 * C)]),
        ("silu", lambda m, x: m.silu(x), [(B, T, HIDDEN)]),
        ("gelu_mlp", lambda m, x, w1, b1, w2, b2: m.gelu_mlp(x, w1, b1, w2, b2),
         [(B, T, C), (4 * C, C), (4 * C,), (C, 4 * C), (C,)]),
        ("swiglu_mlp", lambda m, x, wg, wu, wd: m.swiglu_mlp(x, wg, wu, wd),
         [(B, T, C), (HIDDEN, C), (HIDDEN, C), (C, HIDDEN)]),
        ("rotary_embedding", lambda m, x: m.rotary_embedding(x, cos, sin), [(B, H, T, D)]),
        ("attention", lambda m, q, k, v: m.scaled_dot_product_attention(q, k, v, is_causal=True),
         [(B, H, T, D), (B, H, T, D), (B, H, T, D)]),
        ("grouped attention", lambda m, q, k, v: m.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=True), [(B, H, T, D), (B, H_KV, T, D),
                                                         (B, H_KV, T, D)]),
    ]
    print(f"{'kernel':18} {'composed ms':>12} {'fused ms':>9} {'speed-up':>9}"
          f"   (one OpenBLAS thread for both)")
    for name, call, shapes in cases:
        inputs = leaves(*shapes)
        grad = None

        def step(module):
            for x in inputs:
                x.grad = None
            out = call(module, *inputs)
            out.backward(grad if grad is not None else np.ones(out.shape, out.dtype))

        out = call(F, *inputs)
        grad = rng.standard_normal(out.shape).astype(np.float32)
        fused_s, composed_s = compare(lambda: step(F), lambda: step(composed), 3, repeat)
        print(f"{name:18} {composed_s * 1e3:12.2f} {fused_s * 1e3:9.2f} "
              f"{composed_s / fused_s:8.1f}x")

    q, k, v = leaves((B, H, T, D), (B, H_KV, T, D), (B, H_KV, T, D))
    repeated = [tt.tensor(np.repeat(t.data, H // H_KV, axis=1), requires_grad=True)
                for t in (k, v)]

    def grouped():
        F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).backward(
            np.ones((B, H, T, D), np.float32))

    def on_repeated():
        F.scaled_dot_product_attention(q, *repeated, is_causal=True).backward(
            np.ones((B, H, T, D), np.float32))

    grouped_s, repeated_s = compare(grouped, on_repeated, 3, repeat)
    print(f"fused grouped-query attention {grouped_s * 1e3:.2f} ms, the same kernel on keys and "
          f"values repeated to {H} heads {repeated_s * 1e3:.2f} ms "
          f"({grouped_s / repeated_s:.2f}x the time, {H_KV}/{H} of the key/value memory)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, matmuls up to 1024")
    parser.add_argument("--glibc-defaults", action="store_true",
                        help="do not keep freed memory (see the module docstring)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    kept = not args.glibc_defaults and tt.memory.keep_freed_memory()
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}, freed memory "
          f"{'kept for reuse (tinytorch.memory)' if kept else 'returned (glibc defaults)'}\n")
    bench_per_op(repeat)
    bench_forward_backward(repeat)
    bench_matmul([512, 1024] if args.quick else [512, 1024, 2048], repeat + 2)
    on_one_thread(bench_kernels, repeat)


if __name__ == "__main__":
    main()
