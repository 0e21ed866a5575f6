"""The test of the tests: every exercise's graded tests fail each of its wrong solutions and
pass its right ones (tests/exercise_solutions/<exercise>/wrong_*.py and right_*.py, function
bodies at zero indentation; a right one is written differently from the project's own).

One pytest process (tests/exercise_runner.py) swaps each solution into its function in place
and runs the exercise's graded tests on it, for every exercise this session selects; the same
run traces which exercises each exercise's tests execute, so the dependencies can be checked
to form no circle.
"""
import importlib
import re

import pytest

from exercise_tests import EXERCISE_TESTS, ROOT, load_make_exercises

SOLUTIONS = ROOT / "tests" / "exercise_solutions"
MIN_WRONG = 3
from gpt.data import get_batch

make_exercises = load_make_exercises()


@pytest.fixture(scope="session")
def outcomes(request):
    """The exercise runner's report for the exercises whose tests below this session runs."""
    names = sorted({item.callspec.params["name"] for item in request.session.items
                    if item.originalname == "test_wrong_solutions_fail_and_right_ones_pass"}
                   or EXERCISE_TESTS)
    return make_exercises.run_exercise_tests(ROOT, names, solutions=SOLUTIONS, timeout=600)


@pytest.mark.parametrize("name", EXERCISE_TESTS)
def test_wrong_solutions_fail_and_right_ones_pass(name, outcomes):
    folder = SOLUTIONS / name
    wrong = sorted(p.name for p in folder.glob("wrong_*.py"))
    right = sorted(p.name for p in folder.glob("right_*.py"))
    assert len(wrong) >= MIN_WRONG and right, (
        f"{folder} needs at least {MIN_WRONG} wrong_*.py and one right_*.py")
    report = outcomes[name]
    assert report["reference"]["failed"] == 0, report["reference"]["first_failure"]
    assert report["reference"]["passed"] > 0
    for variant in right:
        outcome = report["variants"][variant]
        assert outcome["failed"] == 0, f"{variant} is right but failed: {outcome['first_failure']}"
    passed_wrong = [variant for variant in wrong if report["variants"][variant]["failed"] == 0]
    assert not passed_wrong, f"{name}'s graded tests pass these wrong solutions: {passed_wrong}"


def test_every_solution_file_is_named_and_placed_as_the_tool_reads_it():
    for path in SOLUTIONS.rglob("*"):
        if path.is_file():
            assert path.parent.parent == SOLUTIONS and path.parent.name in EXERCISE_TESTS, path
            assert path.suffix == ".py" and path.name.startswith(("wrong_", "right_")), path


def test_the_dependencies_form_no_circle(outcomes):
    # traced in the same run: an exercise's tests must not run one whose tests run it
    needs = {name: report["needs"] for name, report in outcomes.items()}
    order = make_exercises.working_order(list(needs), needs, list(EXERCISE_TESTS))
    assert sorted(order) == sorted(needs)


def first_half_only(ids, block_size, batch_size, generator):
    """A get_batch whose windows never start in the second half of the text."""
    return get_batch(ids[:len(ids) // 2 + block_size], block_size, batch_size, generator)


# (graded test, a wrong answer put in its module, how its failure must begin): a statistical
# check that fails says what it measured and what that means, on the one line a grade shows
STATISTICAL_FAILURES = [
    ("test_graded_inference::TestVerifyToken::test_emitted_tokens_are_distributed_as_p",
     "verify_token", lambda p, q, token, generator: (False, 0),
     r"chi-square 20000\.0 over 3 degrees of freedom, above its 0\.999 limit 16\.3: the "
     r"emitted tokens are not distributed as p \(counts \[20000, 0, 0, 0\], expected "),
    ("test_graded_inference::TestVerifyToken::test_emitted_tokens_are_distributed_as_p",
     "verify_token", lambda p, q, token, generator: (True, token),
     r"token 4, which p gives probability 0, was emitted 2\d\d\d times in 20000"),
    ("test_graded_inference::TestVerifyToken::test_acceptance_probability_is_min_one_p_over_q",
     "verify_token", lambda p, q, token, generator: (token != 1, token),
     r"a draft of token 1 \(p/q = 0\.2\) was accepted 0\.000 of the time, not 0\.2 ± 0\.02: "),
    ("test_graded_inference::TestVerifyToken::test_a_rejection_draws_from_what_p_has_more_of_"
     "than_q", "verify_token", lambda p, q, token, generator: (token in (0, 2), 0),
     r"after a rejection token 0 came 1\.000 of the time, not 2/3 ± 0\.03 \(max\(0, p - q\) "),
    ("test_graded_data::TestGetBatch::test_the_starts_are_spread_over_the_text", "get_batch",
     first_half_only, r"start \d+ was drawn 0 times in 4000 windows over 56 starts \(about 71 "
                      r"each\), fewer than 31: the starts are not spread over the text"),
]


@pytest.mark.parametrize("test, name, wrong, message", STATISTICAL_FAILURES,
                         ids=[f"{t.split('::')[-1]}-{i}"
                              for i, (t, *_) in enumerate(STATISTICAL_FAILURES)])
def test_a_failed_statistical_check_says_what_it_measured(monkeypatch, test, name, wrong,
                                                          message):
    module_name, class_name, method = test.split("::")
    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, name, wrong)
    with pytest.raises(AssertionError) as failure:
        getattr(getattr(module, class_name)(), method)()
    assert re.match(message, str(failure.value)), str(failure.value)
    assert "\n" not in str(failure.value).split("\nassert")[0]          # one line for a grade
