"""examples/24_scaling_laws.py in fast mode: the ladders' tables, finite fits and valid SVG
pictures (not the exponents' values: runs this short do not measure them)."""
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
ROW = re.compile(r" +(\d+) +(\d+) +(\d+) +([\d,]+) +([\d,]+) +([\d,]+) +(\d\.\d{4}) +(\d\.\d{4}) "
                 r"+(\d\.\d{4}) +(\d+\.\d)s")
FIT = re.compile(r"fit: L\((N|D)\) = (\S+) \* \1\^-(\d\.\d{3}) \+ (\d+\.\d{3})  "
                 r"\((?:a|b) = (\S+), (?:alpha|beta) = (\d\.\d{4}), c = (\d+\.\d{4})\)")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def table_rows(lines):
    rows = []
    for line in lines:
        match = ROW.fullmatch(line)
        if match:
            layers, heads, width, params, kaplan, tokens, lr, loss, error, seconds = match.groups()
            rows.append(dict(shape=(int(layers), int(heads), int(width)),
                             parameters=int(params.replace(",", "")),
                             kaplan=int(kaplan.replace(",", "")),
                             tokens=int(tokens.replace(",", "")), lr=float(lr),
                             loss=float(loss), error=float(error)))
    return rows


def check_fit(lines, name, sizes, losses):
    """The fit's line: finite, a > 0, alpha > 0, c >= 0, and one residual per point, which is
    the table's loss minus the fitted curve there (up to the printed digits)."""
    (match,) = [m for m in map(FIT.fullmatch, lines) if m]
    assert match[1] == name
    a, alpha, c = float(match[5]), float(match[6]), float(match[7])
    assert all(map(math.isfinite, (a, alpha, c))) and a > 0 and alpha > 0 and c >= 0
    (residuals,) = [line for line in lines if line.startswith("residuals (measured - fitted): ")]
    values = [float(v) for v in re.findall(r"[-+]\d\.\d{4}", residuals.split(";")[0])]
    assert len(values) == len(sizes) and all(map(math.isfinite, values))
    for size, loss, residual in zip(sizes, losses, values):
        assert abs(a * size ** -alpha + c + residual - loss) < 0.005, (size, loss, residual)
    return a, alpha, c


def check_picture(path, n_points, with_fit=True):
    """A valid SVG: one dot per point, the fitted curve, tick labels, finite coordinates."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    dots = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(dots) == n_points
    coordinates = [float(c.get(k)) for c in dots for k in ("cx", "cy")]
    curves = [p for p in root.iter(f"{SVG}path") if p.get("class") == "fit"]
    assert len(curves) == (1 if with_fit else 0)
    for curve in curves:
        coordinates += [float(v) for v in NUMBER.findall(curve.get("d"))]
    assert coordinates and all(map(math.isfinite, coordinates))
    texts = {}
    for text in root.iter(f"{SVG}text"):
        texts.setdefault(text.get("class"), []).append(text.text)
    assert len(texts["x-tick"]) >= 2 and len(texts["y-tick"]) >= 2
    assert len(texts["axis-label"]) == 2 and texts["legend"]
    return texts


def test_24_scaling_laws_fast_ladders_tables_fits_and_pictures(run_example, section, tmp_path):
    result = run_example("24_scaling_laws.py", "--out", tmp_path / "pictures", timeout=300)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == ("== 1. the text: 1,115,394 characters of tinyshakespeare.txt "
                        "(fast ladder) ==")
    assert "inputs (12, 80), targets (12, 80)" in section(lines, 2)
    assert "a model that knows nothing scores ln(65) = 4.174" in section(lines, 2)

    # the model ladder: 5 sizes, growing, the same tokens each, losses below knowing nothing
    ladder = section(lines, 3)
    assert ladder[0] == "== 3. the model ladder: 5 sizes, 200,000 tokens each =="
    assert [line.split(":")[0] for line in ladder[1:] if line] == [f"size {i}/5" for i in
                                                                   range(1, 6)]
    model_section = section(lines, 4)
    models = table_rows(model_section)
    assert len(models) == 5
    sizes = [row["parameters"] for row in models]
    assert sizes == sorted(set(sizes)) and sizes[-1] / sizes[0] >= 25
    assert all(row["kaplan"] < row["parameters"] for row in models)
    assert {row["tokens"] for row in models} == {200_000 // 960 * 960}
    assert all(1.0 < row["loss"] < math.log(65) and 0 < row["error"] < 0.05 for row in models)
    assert any(line.startswith("noise: standard errors up to ") for line in model_section)
    check_fit(model_section, "N", sizes, [row["loss"] for row in models])
    assert f"picture: {tmp_path / 'pictures' / 'model_size.svg'}" in model_section
    ticks = check_picture(tmp_path / "pictures" / "model_size.svg", 5)
    assert ticks["axis-label"] == ["non-embedding parameters N",
                                   "validation loss (nats per character)"]

    # the data ladder: one size, growing tokens; its longest rung is section 3's run
    data_section = section(lines, 5)
    data = table_rows(data_section)
    assert len(data) == 4
    assert {row["shape"] for row in data} == {(2, 4, 32)}
    tokens = [row["tokens"] for row in data]
    assert tokens == sorted(set(tokens)) and tokens[-1] == models[0]["tokens"]
    assert data[-1] == next(row for row in models if row["shape"] == (2, 4, 32))
    assert data_section[4].endswith("(the run of section 3)")
    check_fit(data_section, "D", tokens, [row["loss"] for row in data])
    check_picture(tmp_path / "pictures" / "data_size.svg", 4)

    comparison = section(lines, 6)
    assert any(re.fullmatch(r"alpha_N: here \d\.\d{3} with c = \d+\.\d{3}; -?\d\.\d{3} as a pure "
                            r"power law \(c = 0\); Kaplan et al\. 0\.076", line)
               for line in comparison)
    assert any(line.startswith("alpha_D: here ") and line.endswith("Kaplan et al. 0.095")
               for line in comparison)
    assert re.fullmatch(r"total time: \d+ s of training", lines[-1])


def test_24_scaling_laws_without_shakespeare_says_so_and_finishes(run_example, section,
                                                                  tmp_path):
    # A copy outside the project has no ../shared/data beside it: the opening lines stand in.
    copy = tmp_path / "project" / "examples" / "24_scaling_laws.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "24_scaling_laws.py", copy)
    shutil.copy(ROOT / "examples" / "fallback_text.py", copy.parent)
    result = run_example(copy, "--out", tmp_path / "pictures", timeout=300)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == ("== 1. the text: 1,000 characters of examples/fallback_text.py "
                        "(fast ladder) ==")
    assert "is missing" in lines[1]
    # each ladder: a fit or the reason there is none, and its picture with every point
    for number, name, n_points in ((4, "model_size.svg", 5), (5, "data_size.svg", 4)):
        part = section(lines, number)
        fits = [line for line in part if line.startswith("fit: ")]
        refusals = [line for line in part if line.startswith("no power law: fit_power_law: ")]
        assert len(fits) + len(refusals) == 1, part
        check_picture(tmp_path / "pictures" / name, n_points, with_fit=bool(fits))


@pytest.mark.parametrize("make_out", ["file", "inside a file"])
def test_24_scaling_laws_names_a_picture_folder_it_cannot_make(run_example, tmp_path, make_out):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if make_out == "file" else blocker / "pictures"
    result = run_example("24_scaling_laws.py", "--out", out, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot make the picture folder {out}")
    assert result.stderr.count("\n") == 1
