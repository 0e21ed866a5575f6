"""Exercises for a class: blank chosen function bodies in a copy of the project, then grade.

In the library, each solution is a whole function body between two marker comments:

    def backward(ctx, grad):
        # BEGIN EXERCISE softmax_backward: dL/dx = s * (g - sum(g * s)) along dim
        ...the solution...
        # END EXERCISE softmax_backward

    python examples/make_exercises.py --list                   every exercise and its hint
    python examples/make_exercises.py --out DIR [--only a,b]   a student copy with the chosen
                                                               (default: all) exercises blanked
    python examples/make_exercises.py --grade [DIR]            run each exercise's tests in DIR
                                                               (default: this project): a table

In the student copy each region's body becomes `raise NotImplementedError("<name>: <hint>")`,
indented as the body was, with the markers kept so the student sees where to write; every
other byte is the same. Each exercise's tests carry a pytest marker of its name (the mapping
is tests/exercise_tests.py), so a student runs `python -m pytest -m softmax_backward`.
"""
import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tinytorch", "bpe", "gpt")
BEGIN = re.compile(r"^(\s*)# BEGIN EXERCISE ([A-Za-z_][A-Za-z0-9_]*): (.+)$")
END = re.compile(r"^\s*# END EXERCISE ([A-Za-z_][A-Za-z0-9_]*)\s*$")
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "runs"}


class MarkerError(ValueError):
    """A malformed exercise region, named by file and line."""


class Exercise:
    """One region: where it is (lines are 1-based, the marker lines included) and its hint."""

    def __init__(self, name, hint, path, begin, end, indent):
        self.name, self.hint, self.path = name, hint, path
        self.begin, self.end, self.indent = begin, end, indent

    def blanked_lines(self):
        message = f"{self.name}: {self.hint}"
        return [f"{self.indent}raise NotImplementedError({message!r})"]


def find_exercises(root=ROOT):
    """Every exercise in the packages under `root`, in file and line order; MarkerError for a
    region without its end, an end without its start, a name used twice, or a region that is
    not a whole function body."""
    exercises, seen = [], {}
    for path in sorted(p for package in PACKAGES for p in (root / package).rglob("*.py")):
        for exercise in regions_in(path, root):
            if exercise.name in seen:
                raise MarkerError(f"{exercise.path}:{exercise.begin}: exercise "
                                  f"{exercise.name!r} is also at {seen[exercise.name]}")
            seen[exercise.name] = f"{exercise.path}:{exercise.begin}"
            exercises.append(exercise)
    return exercises


def regions_in(path, root):
    """The exercises marked in one file."""
    relative = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").split("\n")
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
    check_whole_bodies(found, lines, relative)
    return found


def check_whole_bodies(exercises, lines, relative):
    """Each region must hold every statement of one function's body (its docstring aside),
    so that the blanked body is valid code."""
    tree = ast.parse("\n".join(lines))
    functions = [node for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for exercise in exercises:
        inside = [f for f in functions
                  if f.lineno < exercise.begin and f.end_lineno >= exercise.end - 1]
        if not inside:
            raise MarkerError(f"{relative}:{exercise.begin}: exercise {exercise.name!r} is not "
                              f"inside a function")
        function = max(inside, key=lambda f: f.lineno)          # the innermost one
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]                                     # the docstring stays
        if not body or body[0].lineno <= exercise.begin or body[-1].end_lineno >= exercise.end:
            raise MarkerError(f"{relative}:{exercise.begin}: exercise {exercise.name!r} must "
                              f"hold the whole body of {function.name}()")


def blank(text, exercises):
    """`text` with the bodies of `exercises` (all in this file) replaced."""
    lines = text.split("\n")
    for exercise in sorted(exercises, key=lambda e: e.begin, reverse=True):
        lines[exercise.begin:exercise.end - 1] = exercise.blanked_lines()
    return "\n".join(lines)


def write_student_copy(out, names=None, root=ROOT):
    """Copy the project to `out` with the named exercises (all if None) blanked."""
    exercises = find_exercises(root)
    known = {e.name for e in exercises}
    chosen = known if names is None else set(names)
    unknown = sorted(chosen - known)
    if unknown:
        raise ValueError(f"unknown exercise(s): {', '.join(unknown)}; see --list")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    shutil.copytree(root, out, dirs_exist_ok=True,
                    ignore=lambda directory, entries: [e for e in entries if e in SKIP_DIRS
                                                       or e.endswith(".egg-info")])
    by_file = {}
    for exercise in exercises:
        if exercise.name in chosen:
            by_file.setdefault(exercise.path, []).append(exercise)
    for relative, file_exercises in by_file.items():
        path = out / relative
        path.write_text(blank(path.read_text(encoding="utf-8"), file_exercises), encoding="utf-8")
    return sorted(chosen)


def grade(project, names):
    """Run each exercise's tests in `project`; returns [(name, passed, summary line)]."""
    results = []
    env = dict(os.environ, PYTHONPATH=str(project))
    for name in names:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-m", name], cwd=project, capture_output=True, text=True, env=env)
        lines = [line for line in run.stdout.strip().splitlines() if line.strip()]
        results.append((name, run.returncode == 0, lines[-1] if lines else run.stderr.strip()))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="list the exercises and hints")
    action.add_argument("--out", help="write a student copy of the project here")
    action.add_argument("--grade", nargs="?", const=str(ROOT), metavar="DIR",
                        help="run every exercise's tests in DIR (default: this project)")
    parser.add_argument("--only", help="comma-separated exercise names (default: all)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else None
    try:
        if args.list:
            for exercise in find_exercises():
                print(f"{exercise.name:22s} {exercise.path}:{exercise.begin}\n"
                      f"{'':22s} hint: {exercise.hint}")
        elif args.out:
            chosen = write_student_copy(args.out, names)
            print(f"wrote a student copy to {args.out} with {len(chosen)} exercise(s) blanked: "
                  f"{', '.join(chosen)}")
        else:
            project = Path(args.grade)
            names = names or [e.name for e in find_exercises(project)]
            results = grade(project, names)
            for name, passed, summary in results:
                print(f"{name:22s} {'PASS' if passed else 'FAIL'}   {summary}")
            print(f"score: {sum(passed for _, passed, _ in results)}/{len(results)}")
    except (MarkerError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
