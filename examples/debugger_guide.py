"""The README's table of breakpoints, made from marks in the walk-throughs themselves.

A walk-through marks a line worth stopping at with a comment, at the end of the line or on the
lines just above it (continued on lines that start with `#   `):

    # breakpoint: `q.shape`, `k.shape`, then `n` and `scores`
    scores = q @ k.transpose(-2, -1)

The text after `breakpoint:` is what the README's debugger table says to do there. Each item in
backticks is done in order, so the text is also a script for pdb:

    `n`, `s`, `c`, `r`, `unt`, `b ...`, `display ...`, ...    a pdb command, run as it is
                                                              (`n` 3 times: three times)
    `gpt/generate.py`                                         a file to look at (it must exist)
    `print(...)`                                              a statement, run with `!`
    anything else                                             an expression, shown with `p`

    python examples/debugger_guide.py            print the table
    python examples/debugger_guide.py --write    put it into README.md (between its markers)

tests/examples/test_debugger_guide.py checks that README.md holds exactly this table and runs
every row in the real debugger (`python -m pdb`), failing if pdb does not stop at the line or an
inspection raises. So the guide cannot point at the wrong line.
"""
import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TABLE_START = "<!-- debugger-table: made by examples/debugger_guide.py from the walk-throughs -->"
TABLE_END = "<!-- /debugger-table -->"
HEADER = ["| example | break at | then do and inspect |", "|---|---|---|"]
MARK = re.compile(r"#\s*breakpoint:\s*(.*)$")
CONTINUATION = re.compile(r"^\s*#   \s*(.*)$")
PDB_COMMANDS = {"n", "next", "s", "step", "c", "cont", "continue", "r", "return", "unt", "until",
                "b", "break", "tbreak", "display", "undisplay", "up", "u", "down", "d", "w",
                "where", "ll", "longlist", "l", "list", "p", "pp", "a", "args"}
QUOTE_WIDTH = 44
EXAMPLE_SESSION = "07_attention.py"         # the walk-through of the README's first session


@dataclass
class Breakpoint:
    """One mark: the walk-through, the line pdb stops at, that line's code, and the text."""

    example: str
    line: int
    code: str
    text: str

    def quoted_code(self):
        """The code as the table quotes it: whole if short, else its start and '...'."""
        if len(self.code) <= QUOTE_WIDTH:
            return self.code
        cut = self.code.rfind(" ", 0, QUOTE_WIDTH - 4)
        return self.code[:cut if cut > 0 else QUOTE_WIDTH - 4] + " ..."

    def row(self):
        return f"| `{self.example}` | line {self.line} (`{self.quoted_code()}`) | {self.text} |"

    def steps(self):
        """What the text says to do, in order: [("pdb", command) | ("file", path)]."""
        steps = []
        for item, times in re.findall(r"`([^`]+)`(?: (\d+) times)?", self.text):
            if item.split()[0] in PDB_COMMANDS:
                steps.extend([("pdb", item)] * int(times or 1))
            elif re.fullmatch(r"[\w/.]+\.py(:\d+)?", item):
                steps.append(("file", item.split(":")[0]))
            elif item.startswith("print("):
                steps.append(("pdb", "!" + item))
            else:
                steps.append(("pdb", "p " + item))
        return steps


def walk_throughs(root=ROOT):
    return sorted((root / "examples").glob("[0-9][0-9]_*.py"))


def marks_in(path):
    """The Breakpoints marked in one walk-through, in line order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found, pending = [], None              # pending: the text of a mark waiting for its line
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        mark = MARK.search(line)
        if pending is not None and stripped.startswith("#") and not mark:
            continuation = CONTINUATION.match(line)
            if not continuation:
                raise ValueError(f"{path.name}:{number}: a breakpoint mark continues on lines "
                                 f"that start with '#   ', then comes its line of code")
            pending += " " + continuation.group(1).strip()
        elif mark and stripped.startswith("#"):          # a mark above its line
            if pending is not None:
                raise ValueError(f"{path.name}:{number}: two breakpoint marks for one line")
            pending = mark.group(1).strip()
        elif pending is not None:
            if not stripped or mark:
                raise ValueError(f"{path.name}:{number}: a breakpoint mark must be followed "
                                 f"directly by its line of code")
            found.append(Breakpoint(path.name, number, without_comment(line), pending))
            pending = None
        elif mark:                                       # a mark at the end of its line
            found.append(Breakpoint(path.name, number, line[:mark.start()].strip(),
                                    mark.group(1).strip()))
    if pending is not None:
        raise ValueError(f"{path.name}: the last breakpoint mark has no line of code after it")
    return found


def without_comment(line):
    """A line of code without its trailing comment (two spaces, then #) or indentation."""
    return re.sub(r"\s{2,}#.*$", "", line).strip()


def all_marks(root=ROOT):
    return [mark for path in walk_throughs(root) for mark in marks_in(path)]


def table(root=ROOT):
    """The README's part: a first pdb session (at the first row of EXAMPLE_SESSION), then the
    table of every row."""
    marks = all_marks(root)
    first = next(mark for mark in marks if mark.example == EXAMPLE_SESSION)
    session = ["```bash", f"EXAMPLES_FAST=1 python -m pdb examples/{first.example}",
               f"(Pdb) b {first.line}", "(Pdb) c"]
    session += [f"(Pdb) {command}" for kind, command in first.steps()[:2] if kind == "pdb"]
    return "\n".join(session + ["```", ""] + HEADER + [mark.row() for mark in marks])


def readme_with_table(readme_text, table_text):
    """README's text with the part between the table markers replaced by `table_text`."""
    start, end = readme_text.find(TABLE_START), readme_text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no '{TABLE_START}' ... '{TABLE_END}' markers")
    return readme_text[:start + len(TABLE_START)] + "\n" + table_text + "\n" + readme_text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the table in README.md")
    args = parser.parse_args(argv)
    try:
        text = table()
        if args.write:
            README.write_text(readme_with_table(README.read_text(encoding="utf-8"), text),
                              encoding="utf-8")
            print(f"wrote {len(all_marks())} rows into {README}")
        else:
            print(text)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
