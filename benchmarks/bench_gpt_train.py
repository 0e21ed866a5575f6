"""Wall time of the default `python -m gpt train`, on an idle machine and beside a CPU-bound
process.

    python benchmarks/bench_gpt_train.py [--max-iters N] [--rounds R] [-- more gpt train flags]

Runs the training command as a user would (its default model, data and schedule: the
4-layer model on Python's help texts, 2000 iterations, evaluations, a sample), each time
into a fresh temporary directory that is removed afterwards: once quiet, once with one
CPU-bound process running beside it (a Python loop this script starts and stops, standing
for a laptop's browser), alternating, `--rounds` times. Prints each wall time and busy /
quiet, the median over the rounds. `--max-iters 300` gives a figure in a few minutes; the
full default run takes a few minutes quiet.

On a machine that forces an older OpenBLAS kernel (OPENBLAS_CORETYPE=Haswell on an AVX-512
machine), run it both as it is and with `env -u OPENBLAS_CORETYPE`.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import ROOT, cpu_hog  # noqa: E402


def run_gpt_train(extra):
    """Seconds for one `python -m gpt train` into a fresh directory (removed afterwards)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "gpt", "train", "--out", str(Path(folder) / "run"),
                   *extra]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-iters", type=int, help="passed on to gpt train (default: its own)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more flags for gpt train (after --)")
    args = parser.parse_args()
    extra = list(args.extra) + (["--max-iters", str(args.max_iters)] if args.max_iters else [])
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"{os.cpu_count()} CPUs; python -m gpt train {' '.join(extra)}")
    quiet, busy = [], []
    for round_ in range(args.rounds):
        quiet.append(run_gpt_train(extra))
        with cpu_hog():
            busy.append(run_gpt_train(extra))
        print(f"  round {round_ + 1}: quiet {quiet[-1]:7.1f} s   busy {busy[-1]:7.1f} s")
    q, b = statistics.median(quiet), statistics.median(busy)
    print(f"gpt train: quiet {q:.1f} s, beside one CPU-bound process {b:.1f} s, "
          f"busy / quiet = {b / q:.2f}x")


if __name__ == "__main__":
    main()
