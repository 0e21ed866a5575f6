"""The test of the tests: every exercise's graded tests fail each of its wrong solutions and
pass its right ones (tests/exercise_solutions/<exercise>/wrong_*.py and right_*.py, function
bodies at zero indentation; a right one is written differently from the project's own).

One pytest process (tests/exercise_runner.py) swaps each solution into its function in place
and runs the exercise's graded tests on it, for every exercise this session selects; the same
run traces which exercises each exercise's tests execute, so the dependencies can be checked
to form no circle.
"""
import pytest

from exercise_tests import EXERCISE_TESTS, ROOT, load_make_exercises

SOLUTIONS = ROOT / "tests" / "exercise_solutions"
MIN_WRONG = 3
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
