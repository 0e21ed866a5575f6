"""The matrix products of the fused kernels, each on as many OpenBLAS threads as its size earns.

NumPy's `@` hands a product to the BLAS library NumPy was built with; in NumPy's wheels that
is OpenBLAS, which splits every product above 65,536 multiply-adds (a matrix-vector product
above 9,216) over all the cores. Its threads wait for each other by spinning, so on a
machine whose other cores are busy (a laptop with a browser open) a split product waits for a
thread the scheduler is not running: measured on 2 cores with one CPU-bound process beside
it, a (768, 128) x (128, 384) product took 8 ms on two threads instead of 0.6 ms on one, and
the 4-layer model's training step went from 40 to 79 ms (49 ms on one thread). On an idle
machine the second thread halves such a product; the most it can save is half the product's
time, the most it can lose is the scheduler's time slice, several milliseconds, whatever the
product's size.

So `matmul(a, b)` runs a product whose matrices need fewer than `SINGLE_THREAD_BELOW`
multiply-adds each on one thread, and a larger one on OpenBLAS's own thread count: it sets
the count for that product and restores it straight after, so the process's own setting (the
one OPENBLAS_NUM_THREADS or threadpoolctl chose) is never left changed. Every product in
tinytorch's fused kernels goes through here, matrix-vector products included.

One kind of product is the exception: a few rows times a large matrix, as when a large model
decodes one token at a time. Its time is the time to read the matrix from memory, which one
core does at about three quarters of the machine's bandwidth and two cores do at all of it:
a Qwen3-0.6B-shaped model (197 such products a token, 2.4 GB) decodes 15-20 tokens/s this way
instead of 11.5 on one thread. That is a trade, as for any split product: beside a CPU-bound
process it decodes 7.4 tokens/s instead of 11.4. A product of at most `STREAMING_ROWS` rows
whose matrix holds at least `STREAMING_ELEMENTS` numbers keeps OpenBLAS's own thread count;
set `STREAMING_ROWS = 0` to run those on one thread too.

The choice depends on the product's shape alone, never on timing or load, because it can
change the result: OpenBLAS's kernels may round differently on one thread than on two (its
Haswell kernel does, in the last bits), and a run must give the same bits every time.

Where NumPy's BLAS is not OpenBLAS (Accelerate on macOS, MKL), nothing here changes anything:
`matmul(a, b)` is `a @ b`.
"""
import ctypes
import glob
import os

import numpy as np

# Products of fewer multiply-adds per matrix (n * k * m for (n, k) @ (k, m)) run on one
# thread. 2**28 is about 2 ms of one core's work: the smallest product for which the second
# thread's best case (saving half) outweighs its worst (waiting a time slice on a busy core).
SINGLE_THREAD_BELOW = 2 ** 28
# A product of at most this many rows by a matrix of at least this many numbers (4 MiB in
# float32, larger than a core's caches) is limited by memory, not arithmetic: see above.
STREAMING_ROWS = 16
STREAMING_ELEMENTS = 2 ** 20
# Products this small OpenBLAS never splits (its smallest threshold, for matrix-vector
# products, is 9,216 multiply-adds): nothing to set, and 0.6 us saved.
OPENBLAS_ALWAYS_ONE_THREAD = 9216


def openblas_threads():
    """(get_num_threads, set_num_threads) of the OpenBLAS NumPy uses, as ctypes functions, or
    None where NumPy uses another BLAS or the library cannot be found."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (KeyError, TypeError):
        return None
    if "openblas" not in blas.lower():
        return None
    for path in _openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None


def _openblas_paths():
    """Where NumPy's OpenBLAS may be: the copy its wheel ships (numpy.libs on Linux and
    Windows, numpy/.dylibs on macOS), then any OpenBLAS this process has loaded (Linux)."""
    numpy_dir = os.path.dirname(np.__file__)
    paths = sorted(glob.glob(os.path.join(numpy_dir, "..", "numpy.libs", "*openblas*")))
    paths += sorted(glob.glob(os.path.join(numpy_dir, ".dylibs", "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            paths += sorted({line.split()[-1] for line in maps if "openblas" in line})
    except OSError:
        pass
    return paths


_THREADS = openblas_threads()


def matmul(a, b):
    """a @ b (NumPy's semantics, batch dimensions and 1-D operands included), on one OpenBLAS
    thread if each matrix product in it needs fewer than SINGLE_THREAD_BELOW multiply-adds,
    unless it streams a large matrix b through a few rows of a (see the module's text)."""
    if _THREADS is None or a.ndim == 0 or b.ndim == 0:
        return a @ b
    n = a.shape[-2] if a.ndim > 1 else 1
    m = b.shape[-1] if b.ndim > 1 else 1
    size = n * a.shape[-1] * m
    if size >= SINGLE_THREAD_BELOW or size <= OPENBLAS_ALWAYS_ONE_THREAD:
        return a @ b
    if n <= STREAMING_ROWS and a.shape[-1] * m >= STREAMING_ELEMENTS:
        return a @ b
    get_threads, set_threads = _THREADS
    threads = get_threads()
    if threads == 1:
        return a @ b
    set_threads(1)
    try:
        return a @ b
    finally:
        set_threads(threads)
