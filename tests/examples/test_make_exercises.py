"""The exercise tool end to end: listing, one student copy (some exercises answered right, one
wrong, one left blank, one file with a syntax error), the dependency message in the copy,
grading it, refusing what is not a copy; and malformed marker regions."""
import json
import os
import subprocess
import sys

import pytest

from exercise_tests import CHAPTERS, EXERCISE_TESTS, ROOT, exercises_of, load_make_exercises

SOLUTIONS = ROOT / "tests" / "exercise_solutions"
make_exercises = load_make_exercises()

# The copy the tests share (copying the project and grading are the slow parts).
BLANKED = ["topological_sort", "softmax_backward", "bpe_count_pairs", "bpe_merge_pair",
           "top_k_filter", "next_token_probs", "lora_forward"]


def run(*args, cwd=ROOT, timeout=600):
    # A student copy lives elsewhere: point it at this project's reference data.
    env = dict(os.environ, PYTHONPATH=str(cwd), PYTHONDONTWRITEBYTECODE="1",
               TINYGPT_SHARED_DATA=os.environ.get("TINYGPT_SHARED_DATA",
                                                  str(ROOT.parent / "shared" / "data")))
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def pytest_in(project, *args):
    return run("-m", "pytest", "-q", "-p", "no:cacheprovider", *args, cwd=project)


def exercises_by_name(root=ROOT):
    return {e.name: e for e in make_exercises.find_exercises(root)}


def answer(copy, name, solution):
    """Write a solution file's body into the copy's region of exercise `name`."""
    exercise = exercises_by_name(copy)[name]
    body = (SOLUTIONS / name / solution).read_text().rstrip("\n").split("\n")
    path = copy / exercise.path
    lines = path.read_text().split("\n")
    lines[exercise.begin:exercise.end - 1] = [exercise.indent + line if line else line
                                              for line in body]
    path.write_text("\n".join(lines))


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("class") / "student"
    result = run("examples/make_exercises.py", "--out", out, "--only", ",".join(BLANKED))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote a student copy to {out} with {len(BLANKED)} ")
    return out


# ----- the catalogue -----------------------------------------------------------------------------

def test_every_exercise_has_graded_tests_and_every_chapter_an_exercise():
    found = set(exercises_by_name())
    assert found == set(EXERCISE_TESTS) and len(found) >= 26
    titles = make_exercises.chapter_titles(ROOT)
    without = sorted(set(titles) - set(CHAPTERS))
    assert not without, f"chapters of the README's learning path without an exercise: {without}"
    assert set(CHAPTERS) <= set(titles), sorted(set(CHAPTERS) - set(titles))
    for example in CHAPTERS:
        assert (ROOT / "examples" / example).is_file(), example


def test_each_exercise_grades_existing_tests_and_its_marker_selects_them():
    result = pytest_in(ROOT, "--collect-only", "tests/exercises")
    assert result.returncode == 0, result.stdout[-2000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    for name, entries in EXERCISE_TESTS.items():
        for entry in entries:
            assert any(name in exercises_of(test) for test in collected), entry
    selected = pytest_in(ROOT, "--collect-only", "-m", "layer_norm_backward",
                         "tests/exercises")
    tests = [line for line in selected.stdout.splitlines() if "::" in line]
    assert len(tests) >= 3 and all(exercises_of(t) == ["layer_norm_backward"] for t in tests)


def test_list_gives_a_working_order_with_chapters_and_hints():
    result = run("examples/make_exercises.py", "--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.strip().startswith("hint: ") for line in lines) == len(EXERCISE_TESTS)
    names = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert sorted(names) == sorted(EXERCISE_TESTS)
    needs = {name: line.split("needs: ")[1] for name, line in
             zip(names, [l for l in lines if l.strip().startswith("needs: ")])}
    for name, listed in needs.items():
        for need in ([] if listed == "-" else listed.split(", ")):
            assert names.index(need) < names.index(name), (name, need)
    assert "needs: top_k_filter, top_p_filter" in result.stdout
    first = lines[0].split()
    assert first[:2] == ["bigram_counts", "01_next_token.py"] and "gpt/bigram.py:" in lines[0]


def test_working_order_puts_needs_first_and_refuses_a_circle():
    path = ["a", "b", "c", "d"]
    assert make_exercises.working_order(["d", "a", "b"], {"a": ["d"], "b": [], "d": []},
                                        path) == ["b", "d", "a"]
    with pytest.raises(ValueError, match="a, b need each other in a circle"):
        make_exercises.working_order(["a", "b"], {"a": ["b"], "b": ["a"]}, path)


# ----- the student copy --------------------------------------------------------------------------

def test_the_copy_blanks_only_the_regions_and_leaves_out_the_answers(copy):
    exercises = exercises_by_name()
    blanked_files = {exercises[name].path for name in BLANKED}
    for package in ("tinytorch", "bpe", "gpt"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in blanked_files:
                assert (copy / relative).read_bytes() == path.read_bytes(), relative
    for name in BLANKED:
        exercise = exercises[name]
        original = (ROOT / exercise.path).read_text().split("\n")
        blanked = (copy / exercise.path).read_text().split("\n")
        start = blanked.index(original[exercise.begin - 1])               # the BEGIN line
        assert blanked[start + 1] == exercise.blank_line()
        assert blanked[start + 2] == original[exercise.end - 1]           # the END line
    assert not (copy / "tests" / "exercise_solutions").exists()
    assert not (copy / "tests" / "examples" / "test_make_exercises.py").exists()
    assert (copy / "tests" / "exercises" / "test_graded_autograd.py").is_file()


def test_the_copy_says_what_to_do_in_which_order(copy):
    manifest = json.loads((copy / "exercises.json").read_text())
    assert manifest["made_from"] == str(ROOT)
    order = [e["name"] for e in manifest["exercises"]]
    assert sorted(order) == sorted(BLANKED)
    assert order.index("top_k_filter") < order.index("next_token_probs")
    assert order.index("topological_sort") < order.index("lora_forward")
    in_copy = exercises_by_name(copy)
    assert {e["name"]: e["line"] for e in manifest["exercises"]} == {
        name: in_copy[name].begin for name in BLANKED}           # where they are in the copy
    assert in_copy["bpe_merge_pair"].begin < exercises_by_name()["bpe_merge_pair"].begin
    needs = {e["name"]: e["needs"] for e in manifest["exercises"]}
    assert needs["next_token_probs"] == ["top_k_filter"]      # top_p_filter is not blanked
    assert needs["lora_forward"] == ["topological_sort"]
    page = (copy / "EXERCISES.md").read_text()
    assert "pip install -e '.[test]'" in page and "TINYGPT_SHARED_DATA" in page
    assert "| `next_token_probs` | picking the next token (`examples/09_sampling.py`) |" in page
    for name in BLANKED:
        assert f"- `{name}`: " in page


def test_an_exercise_waiting_for_a_blank_one_names_it(copy):
    waiting = pytest_in(copy, "-m", "lora_forward", "tests/exercises")
    assert waiting.returncode != 0
    where = f"tinytorch/autograd.py:{exercises_by_name(copy)['topological_sort'].begin}"
    assert (f"lora_forward's tests run topological_sort ({where}), still blank in this copy: "
            f"do it first") in waiting.stdout
    assert "NotImplementedError" not in waiting.stdout
    summary = waiting.stdout.splitlines()[-1]
    assert " failed" in summary and "error" not in summary        # failed, not broken
    alone = pytest_in(copy, "-m", "topological_sort", "tests/exercises")   # needs nothing
    assert alone.returncode != 0 and "NotImplementedError: topological_sort: " in alone.stdout


def test_grading_each_exercise_alone(copy):
    answer(copy, "topological_sort", "right_kahn.py")
    answer(copy, "softmax_backward", "right_jacobian.py")
    answer(copy, "top_k_filter", "wrong_threshold_of_row_zero.py")
    answer(copy, "next_token_probs", "right_log_sum_exp.py")   # graded with the project's top-k
    answer(copy, "bpe_count_pairs", "right_counter.py")
    answer(copy, "bpe_merge_pair", "right_for_loop_with_skip.py")
    # lora_forward stays blank; its dependency is done now, so its own error shows
    own = pytest_in(copy, "-m", "lora_forward", "tests/exercises")
    assert "NotImplementedError: lora_forward: " in own.stdout
    naive = copy / "bpe" / "naive.py"                  # a syntax error outside the regions
    naive.write_text(naive.read_text().replace("def most_frequent_pair(counts):",
                                               "def most_frequent_pair(counts)"))

    result = run("examples/make_exercises.py", "--grade", copy)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    table = {line.split()[0]: line for line in lines[:-1]}
    assert list(table) == [e["name"] for e in
                           json.loads((copy / "exercises.json").read_text())["exercises"]]
    width = max(map(len, BLANKED))
    for name, line in table.items():
        assert line.startswith(f"{name:<{width}}  PASS  ") or line.startswith(
            f"{name:<{width}}  FAIL  "), line
    status = {name: line.split()[1] for name, line in table.items()}
    assert status == {"topological_sort": "PASS", "softmax_backward": "PASS",
                      "top_k_filter": "FAIL", "next_token_probs": "PASS",
                      "bpe_count_pairs": "FAIL", "bpe_merge_pair": "FAIL", "lora_forward": "FAIL"}
    assert lines[-1] == "score: 3/7"
    assert "tests failed; first: TestTopKFilter::" in table["top_k_filter"]
    assert "assert [[True, False" in table["top_k_filter"]          # the first failure
    line = naive.read_text().split("\n").index("def most_frequent_pair(counts)") + 1
    for name in ("bpe_count_pairs", "bpe_merge_pair"):
        assert f"bpe/naive.py:{line}: SyntaxError: " in table[name]
    assert "not done" in table["lora_forward"]
    assert "tests passed" in table["softmax_backward"]

    only = run("examples/make_exercises.py", "--grade", copy, "--only", "softmax_backward")
    assert only.returncode == 0 and only.stdout.splitlines()[-1] == "score: 1/1", only.stdout


@pytest.mark.parametrize("folder", ["nonexistent", "project"])
def test_grading_refuses_what_is_not_a_student_copy(tmp_path, folder):
    target = ROOT if folder == "project" else tmp_path / folder
    result = run("examples/make_exercises.py", "--grade", target)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"error: {target} is not a student copy: it has no exercises.json "
                             f"(make one with --out)\n")


def test_grading_names_exercises_the_copy_did_not_blank(copy):
    result = run("examples/make_exercises.py", "--grade", copy, "--only", "gelu_derivative")
    assert result.returncode == 1
    assert result.stderr.startswith("error: not blanked in ") and "gelu_derivative" in result.stderr


# ----- malformed regions and bad requests ---------------------------------------------------------

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
    ("# BEGIN EXERCISE a: h\nx = 1\n# END EXERCISE a\n", "broken.py:1: exercise 'a' is not inside"),
])
def test_malformed_regions_name_the_file_and_line(tmp_path, source, message):
    write_package(tmp_path, source)
    with pytest.raises(make_exercises.MarkerError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        make_exercises.find_exercises(tmp_path)


def test_a_region_knows_its_function_and_signature(tmp_path):
    write_package(tmp_path, "class A:\n    @staticmethod\n    def f(ctx, x, *rest, k=2):\n"
                            "        '''doc'''\n        # BEGIN EXERCISE a: h\n        return x\n"
                            "        # END EXERCISE a\n")
    (exercise,) = make_exercises.find_exercises(tmp_path)
    assert (exercise.function, exercise.signature, exercise.module) == (
        "A.f", "ctx, x, *rest, k=2", "bpe.broken")


def test_unknown_names_and_existing_output_are_one_line_errors(tmp_path):
    result = run("examples/make_exercises.py", "--out", tmp_path / "x", "--only", "nope")
    assert result.returncode == 1 and result.stderr.startswith("error: unknown exercise")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    result = run("examples/make_exercises.py", "--out", tmp_path / "full")
    assert result.returncode == 1 and "not empty" in result.stderr
    inside = ROOT / "examples" / "student"
    result = run("examples/make_exercises.py", "--out", inside)
    assert result.returncode == 1 and "inside the project" in result.stderr
    assert not inside.exists()


def test_without_pytest_the_message_names_the_test_extras(monkeypatch, capsys):
    # after a plain `pip install -e .`: the tool runs the project's tests, so it needs pytest
    monkeypatch.setitem(sys.modules, "pytest", None)           # import pytest now fails
    for argv in (["--list"], ["--out", "nowhere"], ["--grade", "nowhere"]):
        assert make_exercises.main(argv) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert err.startswith("error: the exercise tool runs the project's tests with pytest")
        assert "pip install -e '.[test]'" in err


@pytest.mark.parametrize("only", ["", " ", ",", " , "])
def test_an_empty_only_is_refused_not_read_as_all(tmp_path, only):
    # an empty shell variable (--only "$NAMES") must not blank all the exercises
    result = run("examples/make_exercises.py", "--out", tmp_path / "x", "--only", only)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: --only names no exercise: give comma-separated names " \
                            "(see --list), or leave --only out for all of them\n"
    assert not (tmp_path / "x").exists()
