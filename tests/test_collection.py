"""Bare `pytest` collects the same tests as `python -m pytest`: the test folders tests/bpe and
tests/gpt must not shadow the packages bpe and gpt (setup.cfg puts the project root first)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bare_pytest_collects_the_packages_not_the_test_folders():
    # `python -P -m pytest` leaves the current folder off sys.path, as the bare `pytest`
    # script does (3.11+); on 3.10 run the script that sits beside this Python.
    command = ([sys.executable, "-P", "-m", "pytest"] if sys.version_info >= (3, 11)
               else [str(Path(sys.executable).with_name("pytest"))])
    result = subprocess.run(command + ["--collect-only", "-q", "-p", "no:cacheprovider",
                                       "tests/bpe", "tests/gpt"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "error" not in result.stdout.splitlines()[-1]
