"""The exercise tool: listing, student copies, grading markers, and malformed regions."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exercise_tests import EXERCISE_TESTS, exercises_of

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("make_exercises",
                                              ROOT / "examples" / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_exercises)

EXPECTED = {"elementwise_backward", "matmul_backward", "unbroadcast", "topological_sort",
            "softmax_backward", "log_softmax_backward", "layer_norm_backward", "gelu_derivative",
            "causal_attention", "bpe_count_pairs", "bpe_merge_pair", "bpe_encode_by_rank",
            "top_p_filter", "kv_cache_update", "adamw_step", "rms_norm_backward",
            "apply_rotation", "swiglu_backward", "repeat_kv"}


def run(*args, cwd=ROOT, timeout=300):
    # A student copy lives elsewhere: point it at this project's reference data.
    env = dict(os.environ, PYTHONPATH=str(cwd),
               TINYGPT_SHARED_DATA=str(ROOT.parent / "shared" / "data"))
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def pytest_in(project, *args):
    return run("-m", "pytest", "-q", "-p", "no:cacheprovider", *args, cwd=project)


def test_list_names_every_exercise_with_its_hint():
    result = run("examples/make_exercises.py", "--list")
    assert result.returncode == 0, result.stderr
    for name in EXPECTED:
        assert name in result.stdout
    assert result.stdout.count("hint: ") == len(EXPECTED)


def test_every_exercise_has_tests_and_every_test_entry_an_exercise():
    found = {e.name for e in make_exercises.find_exercises()}
    assert found == EXPECTED == set(EXERCISE_TESTS)


def collected(*args):
    result = pytest_in(ROOT, "--collect-only", *args)
    assert result.returncode == 0, result.stdout[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_each_exercise_grades_at_least_one_existing_test():
    # One collection for all: every mapping entry must name tests that exist.
    every_test = collected()
    for name, entries in EXERCISE_TESTS.items():
        for entry in entries:
            assert any(t == entry or t.startswith(entry + "[") for t in every_test), entry
    # and the marker selects exactly the mapped tests
    selected = collected("-m", "layer_norm_backward")
    assert len(selected) >= 3
    assert all(exercises_of(t) for t in selected)


def student_copy(tmp_path, names):
    out = tmp_path / "student"
    result = run("examples/make_exercises.py", "--out", out, "--only", ",".join(names))
    assert result.returncode == 0, result.stderr
    return out


def assert_only_the_region_changed(out, exercise):
    for package in ("tinytorch", "bpe", "gpt"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative.as_posix() != exercise.path:
                assert (out / relative).read_bytes() == path.read_bytes(), relative
    original = (ROOT / exercise.path).read_text().split("\n")
    blanked = (out / exercise.path).read_text().split("\n")
    assert blanked[:exercise.begin] == original[:exercise.begin]          # up to BEGIN
    assert blanked[exercise.begin] == (f"{exercise.indent}raise NotImplementedError("
                                       f"{exercise.name + ': ' + exercise.hint!r})")
    assert blanked[exercise.begin + 1:] == original[exercise.end - 1:]    # END onwards


def test_a_blanked_tinytorch_exercise_fails_its_tests_while_bpe_passes(tmp_path):
    exercise = next(e for e in make_exercises.find_exercises() if e.name == "softmax_backward")
    out = student_copy(tmp_path, ["softmax_backward"])
    assert_only_the_region_changed(out, exercise)
    graded = pytest_in(out, "-m", "softmax_backward")
    assert graded.returncode != 0
    assert "NotImplementedError: softmax_backward: " in graded.stdout
    assert pytest_in(out, "tests/bpe").returncode == 0


def test_a_blanked_bpe_exercise_fails_its_tests_while_the_engine_passes(tmp_path):
    out = student_copy(tmp_path, ["bpe_merge_pair"])
    graded = pytest_in(out, "-m", "bpe_merge_pair")
    assert graded.returncode != 0 and "NotImplementedError: bpe_merge_pair: " in graded.stdout
    assert pytest_in(out, "tests/tinytorch/test_engine.py").returncode == 0
    table = run("examples/make_exercises.py", "--grade", out, "--only",
                "bpe_merge_pair,bpe_count_pairs")
    assert "bpe_merge_pair         FAIL" in table.stdout
    assert "bpe_count_pairs        PASS" in table.stdout and "score: 1/2" in table.stdout


def write_package(root, source):
    (root / "bpe").mkdir(parents=True)
    (root / "bpe" / "broken.py").write_text(source)


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN EXERCISE a: hint\n    return 1\n",
     "broken.py:2: exercise 'a' has no END"),
    ("def f():\n    # BEGIN EXERCISE a: h\n    return 1\n    # END EXERCISE a\n"
     "def g():\n    # BEGIN EXERCISE a: h\n    return 2\n    # END EXERCISE a\n",
     "broken.py:6: exercise 'a' is also at bpe/broken.py:2"),
    ("def f():\n    x = 1\n    # BEGIN EXERCISE a: h\n    return x\n    # END EXERCISE a\n",
     "broken.py:3: exercise 'a' must hold the whole body of f()"),
    ("def f():\n    return 1\n    # END EXERCISE a\n", "broken.py:3: END EXERCISE a without"),
])
def test_malformed_regions_name_the_file_and_line(tmp_path, source, message):
    write_package(tmp_path, source)
    with pytest.raises(make_exercises.MarkerError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        make_exercises.find_exercises(tmp_path)


def test_unknown_names_and_existing_output_are_one_line_errors(tmp_path):
    result = run("examples/make_exercises.py", "--out", tmp_path / "x", "--only", "nope")
    assert result.returncode == 1 and result.stderr.startswith("error: unknown exercise")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    result = run("examples/make_exercises.py", "--out", tmp_path / "full")
    assert result.returncode == 1 and "not empty" in result.stderr
