"""The README's debugger table: made from the walk-throughs' own breakpoint marks, and every row
run in the real debugger (python -m pdb, commands on standard input) in fast mode."""
import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("debugger_guide",
                                              ROOT / "examples" / "debugger_guide.py")
debugger_guide = importlib.util.module_from_spec(spec)
spec.loader.exec_module(debugger_guide)

MARKS = debugger_guide.all_marks()
PDB_ERROR = re.compile(r"^(?:\(Pdb\) )*\*\*\* |Traceback \(most recent call last\)|Uncaught exception|"
                       r"The program finished and will be restarted", re.MULTILINE)


def test_the_readme_table_is_the_one_the_marks_make():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert debugger_guide.readme_with_table(readme, debugger_guide.table()) == readme, \
        "README.md's debugger table is out of date: run python examples/debugger_guide.py --write"


def test_every_walk_through_has_a_breakpoint_row():
    marked = {mark.example for mark in MARKS}
    assert marked == {path.name for path in debugger_guide.walk_throughs()}


def test_each_row_quotes_its_line_and_names_what_exists():
    for mark in MARKS:
        source = (ROOT / "examples" / mark.example).read_text(encoding="utf-8").split("\n")
        code = source[mark.line - 1].strip()
        assert code.startswith(mark.code), (mark.example, mark.line)
        assert code.startswith(mark.quoted_code().removesuffix(" ...")), mark.row()
        steps = mark.steps()
        assert any(kind == "pdb" for kind, _ in steps), f"{mark.row()}: nothing to do there"
        for kind, item in steps:
            if kind == "file":
                assert (ROOT / item).is_file(), f"{mark.row()}: {item} does not exist"


def run_in_pdb(mark):
    """Run the walk-through under pdb: break at the marked line, continue to it, then do what
    the row says; returns (the first stop's line, everything pdb printed)."""
    commands = [f"b {mark.line}", "c"] + [item for kind, item in mark.steps() if kind == "pdb"]
    env = dict(os.environ, EXAMPLES_FAST="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-m", "pdb", str(ROOT / "examples" / mark.example)],
                            input="\n".join(commands + ["q"]) + "\n", cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    stops = re.findall(r"^(?:\(Pdb\) )*> (.+)\((\d+)\)", result.stdout, re.MULTILINE)
    return stops, result.stdout + result.stderr


@pytest.fixture(scope="module")
def pdb_runs():
    # Two at a time: each run is a separate Python waiting on pdb's prompt or computing.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([mark.row() for mark in MARKS], pool.map(run_in_pdb, MARKS)))


@pytest.mark.parametrize("mark", MARKS, ids=[f"{m.example}:{m.line}" for m in MARKS])
def test_pdb_stops_at_the_row_and_every_inspection_works(mark, pdb_runs):
    stops, output = pdb_runs[mark.row()]
    assert len(stops) >= 2, output[-3000:]
    # the first stop is the script's first line; `c` must stop at the marked line
    path, line = stops[1]
    assert Path(path).name == mark.example and int(line) == mark.line, output[-3000:]
    error = PDB_ERROR.search(output)
    assert error is None, output[max(0, error.start() - 1500):error.start() + 1500]
    n_moves = sum(item.split()[0] in {"n", "next", "s", "step", "c", "cont", "continue", "r",
                                      "return", "unt", "until"}
                  for kind, item in mark.steps() if kind == "pdb")
    assert len(stops) >= 2 + n_moves, output[-3000:]
