"""A pytest plugin that runs each exercise's graded tests on other bodies of its function, in
one process, and writes what happened as JSON. examples/make_exercises.py and
tests/exercises/test_exercise_solutions.py start it; it is not active in ordinary test runs.

    python -m pytest -p exercise_runner --exercise-report FILE [--exercise-solutions DIR]
                     -m "name or name ..." TEST FILES          (tests/ on PYTHONPATH)

For every exercise among the selected tests (tests/exercise_tests.py says which grade which):

1. its tests run on the project's own body under a tracer that notes which exercise functions
   execute: the exercise's dependencies are the other exercises its tests run;
2. with --exercise-solutions, for each DIR/<exercise>/wrong_*.py and right_*.py (a function
   body at zero indentation), the body is compiled into a function with the same signature
   and globals, its code object replaces the function's own, the tests run again through
   pytest's runner protocol, and the function gets its own code back. A wrong solution stops
   at the first test that catches it.

The report: {exercise: {"needs": [...], "reference": outcome, "variants": {file: outcome}}},
an outcome being {"passed": n, "failed": n, "skipped": n, "first_failure": "test: message"}.
"""
import importlib
import inspect
import json
import sys
import textwrap
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol
from hypothesis import settings

from exercise_tests import ROOT, exercises_of, load_make_exercises

make_exercises = load_make_exercises()


def pytest_addoption(parser):
    group = parser.getgroup("exercises", "running exercises on other bodies")
    group.addoption("--exercise-report", metavar="FILE",
                    help="run each selected exercise's tests as described in exercise_runner.py "
                         "and write the outcomes to FILE as JSON")
    group.addoption("--exercise-solutions", metavar="DIR",
                    help="also run every wrong_*.py and right_*.py in DIR/<exercise>/")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if config.getoption("exercise_report"):
        # A wrong solution's failing examples must not be replayed in later runs.
        settings.register_profile("exercise-runner", settings(), database=None)
        settings.load_profile("exercise-runner")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    report_path = session.config.getoption("exercise_report")
    if not report_path:
        return None                                        # an ordinary run
    if session.testsfailed:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    solutions = session.config.getoption("exercise_solutions")
    exercises = {e.name: e for e in make_exercises.find_exercises(ROOT)}
    report = {}
    for name, items in items_by_exercise(session.items).items():
        function = live_function(exercises[name])
        needs, reference = trace_exercises(exercises, lambda: run_items(items))
        report[name] = {"needs": sorted(needs - {name}), "reference": reference, "variants": {}}
        for path in sorted(Path(solutions, name).glob("*.py")) if solutions else []:
            code = compile_body(exercises[name], function, path)
            original, function.__code__ = function.__code__, code
            try:
                outcome = run_items(items, stop_at_failure=path.name.startswith("wrong_"))
            finally:
                function.__code__ = original
            report[name]["variants"][path.name] = outcome
    Path(report_path).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return True


def items_by_exercise(items):
    """{exercise: [its test items]}, in the order the tests were collected."""
    grouped = {}
    for item in items:
        for name in exercises_of(item.nodeid):
            grouped.setdefault(name, []).append(item)
    return grouped


def live_function(exercise):
    """The function object whose body is the exercise's region, as imported now (beneath a
    classmethod or a decorator made with functools.wraps)."""
    target = importlib.import_module(exercise.module)
    for part in exercise.function.split("."):
        target = getattr(target, part)
    return inspect.unwrap(getattr(target, "__func__", target))


def compile_body(exercise, function, path):
    """The code object of `def <name>(<the exercise's signature>):` + the body in `path`,
    compiled in the function's module (its globals), named after the file for tracebacks."""
    body = path.read_text(encoding="utf-8")
    name = function.__code__.co_name
    source = f"def {name}({exercise.signature}):\n{textwrap.indent(body, '    ')}"
    namespace = {}
    exec(compile(source, str(path), "exec"), function.__globals__, namespace)
    code = namespace[name].__code__
    if code.co_freevars != function.__code__.co_freevars:
        raise ValueError(f"{path}: cannot replace {exercise.function}, which uses variables of "
                         f"an enclosing function")
    return code


def trace_exercises(exercises, run):
    """(names of the exercises whose functions ran, run()'s result). A trace function on
    every Python call is cheap enough here: it looks one code object up and returns None, so
    no line inside any function is traced."""
    by_code = {live_function(e).__code__: e.name for e in exercises.values()}
    ran = set()

    def on_call(frame, event, arg):
        name = by_code.get(frame.f_code)
        if name is not None:
            ran.add(name)

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = run()
    finally:
        sys.settrace(previous)
    return ran, result


def run_items(items, stop_at_failure=False):
    """Run the test items through pytest's runner protocol (setup, call, teardown, no
    terminal report); fixtures are shared between consecutive items, except when stopping
    at the first failure, where each item tears its fixtures down."""
    outcome = {"passed": 0, "failed": 0, "skipped": 0, "first_failure": None}
    for index, item in enumerate(items):
        last = stop_at_failure or index == len(items) - 1
        reports = runtestprotocol(item, nextitem=None if last else items[index + 1], log=False)
        failed = next((report for report in reports if report.failed), None)
        if failed is not None:
            outcome["failed"] += 1
            if outcome["first_failure"] is None:
                outcome["first_failure"] = f"{item.nodeid}: {failure_message(failed)}"
            if stop_at_failure:
                break
        elif any(report.skipped for report in reports):
            outcome["skipped"] += 1
        else:
            outcome["passed"] += 1
    return outcome


def failure_message(report):
    """The exception and the start of its message, on one line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    return make_exercises.one_line(crash.message if crash is not None else report.longrepr)
