"""What the tests of the walk-through scripts share: running one example as a learner would,
in fast mode, and the few ways of reading its output that more than one test uses."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_example():
    """run_example(script, *args, env=None, check=True, timeout=120) runs examples/<script>
    (or `script` itself if it is an absolute path, such as a copy in tmp_path) in a fresh
    Python, from the repository root, in fast mode, and returns the CompletedProcess.
    check=True asserts that it exited with 0, showing its stderr if it did not; pass
    check=False for the runs that are meant to fail. `env` adds or overrides variables."""
    def run(script, *args, env=None, check=True, timeout=120):
        script = Path(script)
        if not script.is_absolute():
            script = Path("examples") / script
        full_env = dict(
            os.environ,
            EXAMPLES_FAST="1",
            # One BLAS thread for every example: the printed numbers are the same with any
            # number, but on a busy 2-core machine OpenBLAS's two threads wait for each other
            # on these examples' small matrices and make a run up to ten times slower.
            OPENBLAS_NUM_THREADS="1",
            # The repository root first makes `import tinytorch`, `bpe` and `gpt` find this
            # checkout, with or without `pip install -e .`.
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        full_env.update(env or {})
        result = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=ROOT,
                                env=full_env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, result.stderr
        return result
    return run


@pytest.fixture
def section():
    """section(lines, number): the lines of section `number`, from its '== N. ' header to the
    next header."""
    def lines_of(lines, number):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"== {number}. "))
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")),
                   len(lines))
        return lines[start:end]
    return lines_of


@pytest.fixture
def number_after():
    """number_after(lines, prefix): the number that follows prefix on the one line that starts
    with it."""
    def number(lines, prefix):
        (line,) = [line for line in lines if line.startswith(prefix)]
        return float(line[len(prefix):].split()[0])
    return number
