"""Exercises for a class: blank chosen function bodies in a copy of the project, then grade.

In the library, each solution is a whole function body between two marker comments:

    def backward(ctx, grad):
        # BEGIN EXERCISE softmax_backward: dL/dx = s * (g - sum(g * s)) along dim
        ...the solution...
        # END EXERCISE softmax_backward

    python examples/make_exercises.py --list                    every exercise, in a working order
    python examples/make_exercises.py --out DIR [--only a,b]    a student copy with the chosen
                                                                (default: all) exercises blanked
    python examples/make_exercises.py --grade DIR [--only a,b]  grade a returned copy

In the student copy each chosen body is `raise NotImplementedError("<name>: <hint>")`, indented
as the body was, with the markers kept so the student sees where to write; every other file is
the project's, except the teacher's files (TEACHER_ONLY: the solutions and their tests). The
copy also gets EXERCISES.md (what to do, in which order) and exercises.json, the manifest the
grader reads: the exercises blanked, where each is, what each needs, and the project the copy
was made from.

Which tests grade which exercise is in tests/exercise_tests.py; each exercise's tests carry a
pytest marker of its name, so a student runs `python -m pytest -m softmax_backward`. An
exercise depends on the other exercises its tests run: found by running them under a tracer
(tests/exercise_runner.py), never written by hand. In the copy, the tests of an exercise whose
dependencies are still blank fail at once with a message naming them.

Grading puts each answer alone into a scratch copy of the project the copy was made from,
every other exercise keeping the project's own solution, and runs that exercise's tests there
(the project's tests, not the copy's), one pytest process per exercise. One missing or broken
answer never fails another exercise; a syntax error fails only the exercises of its file.
"""
import argparse
import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from gpt.safeguards.output_dir import atomic_directory, check_new_directory

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tinytorch", "bpe", "gpt")
BEGIN = re.compile(r"^(\s*)# BEGIN EXERCISE ([A-Za-z_][A-Za-z0-9_]*): (.+)$")
END = re.compile(r"^\s*# END EXERCISE ([A-Za-z_][A-Za-z0-9_]*)\s*$")
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "runs"}
# What a student copy leaves out: the answers, and the tests that need them or the teacher's tool.
TEACHER_ONLY = ("tests/exercise_solutions", "tests/exercises/test_exercise_solutions.py",
                "tests/examples/test_make_exercises.py")
MANIFEST = "exercises.json"
GRADE_TIMEOUT = 120             # seconds for one exercise's tests: an endless loop fails


class MarkerError(ValueError):
    """A malformed exercise region, named by file and line."""


class Exercise:
    """One region: where it is (lines are 1-based, the marker lines included), its hint, and
    the function whose body it is (`function`, a qualified name such as "Softmax.backward",
    in `module`; `signature`, its parameters as written)."""

    def __init__(self, name, hint, path, begin, end, indent):
        self.name, self.hint, self.path = name, hint, path
        self.begin, self.end, self.indent = begin, end, indent
        self.function = self.signature = None

    @property
    def module(self):
        return self.path[:-len(".py")].replace("/", ".").removesuffix(".__init__")

    def blank_line(self):
        return f"{self.indent}raise NotImplementedError({self.name + ': ' + self.hint!r})"


def find_exercises(root=ROOT):
    """Every exercise in the packages under `root`, in file and line order; MarkerError for a
    region without its end, an end without its start, a name used twice, or a region that is
    not a whole function body."""
    exercises, seen = [], {}
    for path in sorted(p for package in PACKAGES for p in (Path(root) / package).rglob("*.py")):
        for exercise in regions_in(path.read_text(encoding="utf-8"),
                                   path.relative_to(root).as_posix()):
            if exercise.name in seen:
                raise MarkerError(f"{exercise.path}:{exercise.begin}: exercise "
                                  f"{exercise.name!r} is also at {seen[exercise.name]}")
            seen[exercise.name] = f"{exercise.path}:{exercise.begin}"
            exercises.append(exercise)
    return exercises


def regions_in(text, relative):
    """The exercises marked in the source `text` of the file `relative` (a posix path)."""
    lines = text.split("\n")
    found, open_region = [], None
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_region:
                raise MarkerError(f"{relative}:{open_region.begin}: exercise "
                                  f"{open_region.name!r} has no END before line {number}")
            open_region = Exercise(begin.group(2), begin.group(3).strip(), relative, number,
                                   None, begin.group(1))
        elif end:
            if not open_region or end.group(1) != open_region.name:
                raise MarkerError(f"{relative}:{number}: END EXERCISE {end.group(1)} without "
                                  f"its BEGIN")
            open_region.end = number
            found.append(open_region)
            open_region = None
        elif "EXERCISE" in line and re.search(r"#\s*(BEGIN|END) EXERCISE", line):
            raise MarkerError(f"{relative}:{number}: malformed marker (want '# BEGIN EXERCISE "
                              f"name: hint' or '# END EXERCISE name')")
    if open_region:
        raise MarkerError(f"{relative}:{open_region.begin}: exercise {open_region.name!r} has "
                          f"no END EXERCISE")
    if found:
        check_whole_bodies(found, text, relative)
    return found


def functions_with_names(tree):
    """(qualified name, node) for every function in a module's syntax tree."""
    stack = [(node, "") for node in tree.body]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                yield name, node
            stack.extend((child, name + ".") for child in node.body)


def check_whole_bodies(exercises, text, relative):
    """Each region must hold every statement of one function's body (its docstring aside),
    so that the blanked body is valid code; note the function's name and signature."""
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise MarkerError(f"{relative}:{error.lineno}: SyntaxError: {error.msg}") from None
    functions = list(functions_with_names(tree))
    for exercise in exercises:
        inside = [(name, f) for name, f in functions
                  if f.lineno < exercise.begin and f.end_lineno >= exercise.end - 1]
        if not inside:
            raise MarkerError(f"{relative}:{exercise.begin}: exercise {exercise.name!r} is not "
                              f"inside a function")
        name, function = max(inside, key=lambda pair: pair[1].lineno)    # the innermost one
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]                                     # the docstring stays
        if not body or body[0].lineno <= exercise.begin or body[-1].end_lineno >= exercise.end:
            raise MarkerError(f"{relative}:{exercise.begin}: exercise {exercise.name!r} must "
                              f"hold the whole body of {function.name}()")
        exercise.function, exercise.signature = name, ast.unparse(function.args)


def replace_bodies(text, exercises, bodies):
    """`text` with the body lines of each of `exercises` (all in this file) replaced by the
    matching list of lines in `bodies`."""
    lines = text.split("\n")
    for exercise, body in sorted(zip(exercises, bodies), key=lambda pair: -pair[0].begin):
        lines[exercise.begin:exercise.end - 1] = body
    return "\n".join(lines)


def blank(text, exercises):
    """`text` with the bodies of `exercises` (all in this file) blanked."""
    return replace_bodies(text, exercises, [[e.blank_line()] for e in exercises])


# ----- the catalogue: walk-throughs, graded tests, dependencies ----------------------------------

def load_catalogue(root=ROOT):
    """tests/exercise_tests.py of the project at `root`, as a module."""
    path = Path(root) / "tests" / "exercise_tests.py"
    spec = importlib.util.spec_from_file_location("exercise_tests_of_project", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chapter_titles(root=ROOT):
    """{walk-through file: chapter} from the README's learning-path table."""
    titles = {}
    for line in (Path(root) / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 2 and re.fullmatch(r"`\d\d_\w+\.py`", cells[1]):
            titles.setdefault(cells[1].strip("`"), cells[0])
    return titles


def run_exercise_tests(root, names, solutions=None, timeout=None):
    """The report of tests/exercise_runner.py for the exercises `names` of the project at
    `root` (see there), run in a fresh Python with the project's own tests."""
    catalogue = load_catalogue(root)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "exercise_runner", "--exercise-report", str(report),
                   "-m", " or ".join(names), *catalogue.test_files(names)]
        if solutions:
            command += ["--exercise-solutions", str(solutions)]
        run = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout,
                             env=project_env(root, [Path(root) / "tests", root]))
        if not report.is_file():
            raise RuntimeError(f"running the exercises' tests in {root} failed:\n"
                               f"{(run.stdout + run.stderr)[-3000:]}")
        return json.loads(report.read_text(encoding="utf-8"))


def project_env(root, path, **extra):
    """The environment for a pytest run in the project at `root`: its packages first on the
    path, the reference data where that project's tests look for it, no .pyc files."""
    data = os.environ.get("TINYGPT_SHARED_DATA",
                          str(Path(root).resolve().parent / "shared" / "data"))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)),
                TINYGPT_SHARED_DATA=data, PYTHONDONTWRITEBYTECODE="1", **extra)


def dependencies(root, names):
    """{exercise: [the other exercises its tests run]} for `names`, traced in the project at
    `root`; a RuntimeError if the project's own solutions fail their tests."""
    report = run_exercise_tests(root, names)
    broken = [f"{name}: {report[name]['reference']['first_failure']}" for name in names
              if name in report and report[name]["reference"]["failed"]]
    missing = [name for name in names if name not in report]
    if broken or missing:
        raise RuntimeError("the project's own solutions must pass their tests first: "
                           + "; ".join(broken + [f"{name}: no tests ran" for name in missing]))
    return {name: report[name]["needs"] for name in names}


def working_order(names, needs, learning_path):
    """`names` ordered so that each comes after the ones it needs, and otherwise in
    learning-path order (the order of `learning_path`, a list of every exercise)."""
    remaining, order = set(names), []
    while remaining:
        ready = [name for name in remaining if not set(needs[name]) & remaining]
        if not ready:
            raise ValueError(f"exercises {', '.join(sorted(remaining))} need each other in a "
                             f"circle; their tests must not")
        order.append(min(ready, key=learning_path.index))
        remaining.remove(order[-1])
    return order


def describe(root, names):
    """[{name, path, line, walk_through, chapter, hint, needs}] for the exercises `names` in a
    working order, `needs` being the exercises among `names` that each one's tests run."""
    by_name = {e.name: e for e in find_exercises(root)}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise ValueError(f"unknown exercise(s): {', '.join(unknown)}; see --list")
    catalogue = load_catalogue(root)
    untested = sorted(set(names) - set(catalogue.EXERCISE_TESTS))
    if untested:
        raise ValueError(f"exercise(s) without graded tests in tests/exercise_tests.py: "
                         f"{', '.join(untested)}")
    learning_path = list(catalogue.EXERCISE_TESTS)
    needs = {name: [n for n in found if n in names]
             for name, found in dependencies(root, names).items()}
    titles = chapter_titles(root)
    described = []
    for name in working_order(names, needs, learning_path):
        exercise, walk_through = by_name[name], catalogue.WALK_THROUGH[name]
        described.append({"name": name, "path": exercise.path, "line": exercise.begin,
                          "walk_through": walk_through,
                          "chapter": titles.get(walk_through, walk_through[3:-3]),
                          "hint": exercise.hint, "needs": needs[name],
                          "blank_line": exercise.blank_line()})
    return described


# ----- the student copy ------------------------------------------------------------------------

def copy_project(root, out):
    """Copy the project at `root` to `out`, without caches, virtual environments, runs and the
    teacher's files."""
    def ignore(directory, entries):
        relative = Path(directory).relative_to(root)
        return [e for e in entries if e in SKIP_DIRS or e.endswith(".egg-info")
                or (relative / e).as_posix() in TEACHER_ONLY]
    shutil.copytree(root, out, dirs_exist_ok=True, ignore=ignore)


def write_student_copy(out, names=None, root=ROOT):
    """Copy the project to `out` (new or empty) with the named exercises (all if None)
    blanked, with its EXERCISES.md and manifest, whole or not at all; returns the exercises'
    descriptions in working order."""
    root, out = Path(root).resolve(), Path(out)
    if out.resolve().is_relative_to(root):
        raise ValueError(f"{out} is inside the project it would copy; choose a folder outside "
                         f"it, such as ../student")
    check_new_directory(out)
    exercises = find_exercises(root)
    names = [e.name for e in exercises] if names is None else list(dict.fromkeys(names))
    described = describe(root, names)
    with atomic_directory(out) as temporary:
        copy_project(root, temporary)
        by_file = {}
        for exercise in exercises:
            if exercise.name in names:
                by_file.setdefault(exercise.path, []).append(exercise)
        for relative, file_exercises in by_file.items():
            path = temporary / relative
            path.write_text(blank(path.read_text(encoding="utf-8"), file_exercises),
                            encoding="utf-8")
        # where each region is in the copy: blanking a region moves those below it
        lines_in_copy = {e.name: e.begin for e in find_exercises(temporary)}
        for exercise in described:
            exercise["line"] = lines_in_copy[exercise["name"]]
        manifest = {"made_from": str(root), "exercises": described}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n",
                                          encoding="utf-8")
        (temporary / "EXERCISES.md").write_text(exercises_page(described), encoding="utf-8")
    return described


def exercises_page(described):
    """EXERCISES.md: what the student does, in a working order, and how to check it."""
    rows = "\n".join(
        f"| {i} | `{e['name']}` | {e['chapter']} (`examples/{e['walk_through']}`) | "
        f"`{e['path']}:{e['line']}` | {', '.join(e['needs']) or '-'} |"
        for i, e in enumerate(described, start=1))
    hints = "\n".join(f"- `{e['name']}`: {e['hint']}" for e in described)
    return f"""# Exercises

This copy of the project has {len(described)} function bodies for you to write. Each one sits
between `# BEGIN EXERCISE <name>: <hint>` and `# END EXERCISE <name>`, where the body is now
`raise NotImplementedError(...)`. Read the function's docstring (it states everything the tests
check), replace that line with your code between the markers (code outside them is not graded:
an import or a helper you need goes inside the body too), and check it:

    .venv/bin/python -m pytest -m <name>

Set up once, in this folder:

    python3 -m venv .venv && .venv/bin/pip install -e '.[test]'

Some tests read the reference data (a GPT-2 checkpoint, tiktoken's ranks, ...): they look for
`../shared/data` beside this folder, or wherever the environment variable `TINYGPT_SHARED_DATA`
points.

## A working order

An exercise's tests may run other exercises ("needs"); until those are done, its tests fail at
once with a message naming them. The order below does those first and otherwise follows the
learning path of the README: read the walk-through, then write the exercise.

| # | exercise | chapter (walk-through) | where | needs |
|---|---|---|---|---|
{rows}

## Hints

{hints}

`{MANIFEST}` records which exercises were blanked and which project this copy was made from;
the grader reads it, so leave it as it is.
"""


# ----- grading ------------------------------------------------------------------------------------

def read_manifest(copy):
    """The manifest of a student copy; a ValueError for a folder that is not one."""
    path = Path(copy) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{copy} is not a student copy: it has no {MANIFEST} (make one with "
                         f"--out)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        names = [exercise["name"] for exercise in manifest["exercises"]]
        return manifest["made_from"], names
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a manifest this tool wrote ({error})") from None


def grade(copy, names=None, reference=None, timeout=GRADE_TIMEOUT):
    """Grade the exercises blanked in the student copy `copy` (or those of them in `names`),
    each alone against the project the copy was made from (or `reference`). Yields
    (name, passed, detail) as each is graded, in the copy's working order."""
    copy = Path(copy)
    made_from, blanked = read_manifest(copy)
    names = blanked if names is None else [name for name in blanked if name in names]
    reference = Path(reference or made_from)
    by_name = {e.name: e for e in find_exercises(reference)} if reference.is_dir() else None
    if by_name is None:
        raise ValueError(f"the copy was made from {reference}, which is not there; give the "
                         f"project to grade against with --reference DIR")
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(f"{reference} has no exercise {', '.join(missing)}; give the project "
                         f"the copy was made from with --reference DIR")
    test_files = load_catalogue(reference).test_files
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch) / "project"
        copy_project(reference, scratch)
        for name in names:
            passed, detail = grade_one(copy, scratch, by_name[name], test_files([name]),
                                       reference, timeout)
            yield name, passed, detail


def grade_one(copy, scratch, exercise, test_files, reference, timeout):
    """(passed, detail) for one exercise: the student's body put into the scratch project."""
    try:
        text = (copy / exercise.path).read_text(encoding="utf-8")
        compile(text, exercise.path, "exec")
        mine = {e.name: e for e in regions_in(text, exercise.path)}.get(exercise.name)
    except SyntaxError as error:
        return False, f"{exercise.path}:{error.lineno}: {type(error).__name__}: {error.msg}"
    except (OSError, UnicodeDecodeError, MarkerError) as error:
        return False, str(error)
    if mine is None:
        return False, f"{exercise.path} has no markers of {exercise.name} any more"
    body = text.split("\n")[mine.begin:mine.end - 1]
    if [line.strip() for line in body if line.strip()] == [mine.blank_line().strip()]:
        return False, "not done: the body is still the NotImplementedError line"
    target = scratch / exercise.path
    original = target.read_text(encoding="utf-8")
    graded = replace_bodies(original, [exercise], [body])
    try:
        compile(graded, exercise.path, "exec")
    except SyntaxError as error:         # the body fits its own file, not the project's
        return False, f"{exercise.path}:{error.lineno}: {type(error).__name__}: {error.msg}"
    target.write_text(graded, encoding="utf-8")
    try:
        return run_graded_tests(scratch, exercise.name, test_files, reference, timeout)
    finally:
        target.write_text(original, encoding="utf-8")


def run_graded_tests(project, name, test_files, reference, timeout):
    """(passed, detail) from running exercise `name`'s tests in `project` in a fresh Python."""
    report = project / "graded.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", name,
               f"--junitxml={report}", *test_files]
    env = project_env(reference, [project], TINYGPT_REQUIRE_DATA="1")
    try:
        run = subprocess.run(command, cwd=project, capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return False, f"its tests did not finish in {timeout} s (an endless loop?)"
    cases = read_junit(report) if report.is_file() else []
    report.unlink(missing_ok=True)
    failures = [(case, message) for case, message in cases if message is not None]
    passed = len(cases) - len(failures)
    if run.returncode == 0 and cases:
        return True, f"{passed} tests passed"
    if failures:
        case, message = failures[0]
        return False, f"{len(failures)} of {len(cases)} tests failed; first: {case}: {message}"
    output = (run.stdout + run.stderr).strip().splitlines()
    return False, f"pytest exited with {run.returncode}: {output[-1] if output else ''}"


def read_junit(path):
    """[(test, its failure or error on one line, or None)] from pytest's JUnit XML; skipped
    tests count as failures (a graded test that cannot run grades nothing)."""
    cases = []
    for case in ElementTree.parse(path).iter("testcase"):
        test = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        problem = next((child for child in case if child.tag in ("failure", "error", "skipped")),
                       None)
        message = None
        if problem is not None:
            message = one_line(problem.get("message") or problem.text or problem.tag)
        cases.append((test, message))
    return cases


def one_line(text, limit=300):
    """The non-empty lines of `text` joined by spaces, cut to `limit` characters: a failure
    message for a table line (NumPy's start on the line after the exception's name)."""
    joined = " ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[:limit - 3] + "..."


# ----- the command line ---------------------------------------------------------------------------

def print_list(described):
    width = max(len(e["name"]) for e in described)
    for e in described:
        print(f"{e['name']:<{width}}  {e['walk_through']:<24} {e['chapter']:<26} "
              f"{e['path']}:{e['line']}\n{'':<{width}}  needs: {', '.join(e['needs']) or '-'}\n"
              f"{'':<{width}}  hint: {e['hint']}")


def only_names(only):
    """The exercise names of --only (None: all). An empty list, as an empty shell variable
    gives, is an error: read as "all", it would blank or grade every exercise unasked."""
    if only is None:
        return None
    names = [name.strip() for name in only.split(",") if name.strip()]
    if not names:
        raise ValueError("--only names no exercise: give comma-separated names (see --list), "
                         "or leave --only out for all of them")
    return names


def require_pytest():
    """Every action runs the project's tests with pytest, one of the test extras that a plain
    `pip install -e .` leaves out: say so, rather than pass on pytest's ImportError."""
    if importlib.util.find_spec("pytest") is None:
        raise RuntimeError("the exercise tool runs the project's tests with pytest, which is "
                           "not installed: pip install -e '.[test]' (the test extras)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true",
                        help="list the exercises in a working order, with hints")
    action.add_argument("--out", metavar="DIR", help="write a student copy of the project here")
    action.add_argument("--grade", metavar="DIR", help="grade the student copy in DIR")
    parser.add_argument("--only", help="comma-separated exercise names (default: all; with "
                                       "--grade, all that the copy blanked)")
    parser.add_argument("--reference", metavar="DIR",
                        help="with --grade: the project to grade against (default: the one "
                             "the copy was made from)")
    parser.add_argument("--timeout", type=float, default=GRADE_TIMEOUT,
                        help="with --grade: seconds one exercise's tests may take")
    args = parser.parse_args(argv)
    try:
        names = only_names(args.only)
        require_pytest()
        if args.list:
            print_list(describe(ROOT, names or [e.name for e in find_exercises()]))
        elif args.out:
            described = write_student_copy(args.out, names)
            print(f"wrote a student copy to {args.out} with {len(described)} exercise(s) "
                  f"blanked, in this order: {', '.join(e['name'] for e in described)}")
        else:
            return print_grades(grade(args.grade, names, args.reference, args.timeout), names,
                                args.grade)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def print_grades(results, names, copy):
    """Print one line per exercise as it is graded, then the score; 0 if all passed."""
    _, blanked = read_manifest(copy)
    unknown = sorted(set(names or ()) - set(blanked))
    if unknown:
        raise ValueError(f"not blanked in {copy}: {', '.join(unknown)}")
    width = max(map(len, blanked))
    score = total = 0
    for name, passed, detail in results:
        print(f"{name:<{width}}  {'PASS' if passed else 'FAIL'}  {detail}", flush=True)
        score, total = score + passed, total + 1
    print(f"score: {score}/{total}")
    return 0 if score == total else 1


if __name__ == "__main__":
    sys.exit(main())
