"""Pictures: the terminal heatmap, the SVG files, and the attention weights behind them."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.inspection.attention_maps import attention_weights
from gpt.inspection.pictures import heatmap_svg, log_log_svg, loss_curve_svg, terminal_heatmap

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def model():
    return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16), seed=3)


def test_attention_weights_are_what_the_block_uses(model):
    idx = np.random.default_rng(0).integers(0, 20, (1, 6))
    weights = attention_weights(model, idx, layer=1)
    assert weights.shape == (1, 2, 6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    assert np.all(np.triu(weights, 1) == 0)                       # causal: no future
    with tt.no_grad():                                             # rebuild block 1's attention
        body = model.transformer
        x = body.h[0](body.wte(idx) + body.wpe(np.arange(6)))
        attn = body.h[1].attn
        h = body.h[1].ln_1(x)
        expected = attn(h).data
        v = attn.c_attn(h).data[..., 32:].reshape(1, 6, 2, 8).transpose(0, 2, 1, 3)
        y = (weights @ v).transpose(0, 2, 1, 3).reshape(1, 6, 16)
        np.testing.assert_allclose(attn.c_proj(tt.tensor(y)).data, expected, atol=1e-5)


def test_bad_layer_is_named(model):
    with pytest.raises(ValueError, match="layers 0 to 1"):
        attention_weights(model, np.zeros((1, 3), dtype=np.int64), layer=2)


def test_terminal_heatmap_shades_values_labels_and_legend():
    weights = np.array([[1.0, 0.0, 0.0], [0.91, 0.09, 0.0], [0.2, 0.1, 0.7]])
    labels = ["s", " s", "\n"]
    lines = terminal_heatmap(weights, labels, labels, label_width=6)
    assert lines == ["          0 1 2",               # column numbers
                     "0 's'     █",
                     "1 ' s'    █ ░",                 # 0.09 is visible, not blank
                     "2 '\\n'    ▓ ▒ █",               # a newline token is spelled out
                     "shades: ' ' 0-0.02  '·' 0.02-0.05  '░' 0.05-0.1  '▒' 0.1-0.2  "
                     "'▓' 0.2-0.4  '█' 0.4-1"]
    with_values = terminal_heatmap(weights, labels, labels, values=True, label_width=6)
    assert with_values[0] == "             0    1    2"
    assert with_values[2] == "1 ' s'    0.91 0.09 0.00"
    assert not any(line.startswith("shades") for line in with_values)


def test_every_weight_gets_the_shade_of_its_range():
    from gpt.inspection.pictures import SHADE_LIMITS, SHADES, shade
    assert [shade(v) for v in (0.0, 0.019, 0.02, 0.049, 0.05, 0.099, 0.1, 0.39, 0.4, 1.0)] == \
        list("  ··░░▒▓██")
    assert len(SHADES) == len(SHADE_LIMITS) + 1


def test_column_labels_are_listed_when_they_differ_from_the_rows():
    lines = terminal_heatmap(np.ones((1, 2)), ["q"], ["a", "b"], label_width=4)
    assert "columns: 0 'a'  1 'b'" in lines


def test_heatmap_svg_is_xml_with_one_square_per_cell_and_the_labels():
    root = ET.fromstring(heatmap_svg(np.eye(3), ["x", "y", "<z>"], ["x", "y", "<z>"], "L0 H1"))
    assert root.tag == SVG + "svg"
    assert len(root.findall(f"{SVG}rect")) == 9
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count("<z>") == 2 and "L0 H1" in texts


def test_loss_curve_svg_has_one_path_per_curve_and_labels():
    metrics = [{"iter": i, "loss": 4.0 - i / 10, "lr": 1e-3} for i in range(1, 21)]
    metrics += [{"iter": 10, "val_loss": 3.5, "train_loss_eval": 3.4},
                {"iter": 20, "val_loss": 2.9, "train_loss_eval": 2.8}]
    root = ET.fromstring(loss_curve_svg(metrics, title="run"))
    paths = {p.get("class"): p.get("d") for p in root.iter(f"{SVG}path")}
    assert set(paths) == {"train", "val"}
    assert paths["train"].count("L") == 19 and paths["val"].count("L") == 1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"train loss", "val loss", "iteration", "run"} <= set(texts)


def test_a_curve_of_one_point_is_drawn_as_a_dot():
    root = ET.fromstring(loss_curve_svg([{"iter": 10, "loss": 3.0, "lr": 1e-3},
                                         {"iter": 10, "val_loss": 3.2}]))
    dots = {c.get("class"): (float(c.get("cx")), float(c.get("cy")))
            for c in root.iter(f"{SVG}circle")}
    assert set(dots) == {"train", "val"}
    assert all(np.isfinite(v) for xy in dots.values() for v in xy)


def svg_numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def test_log_log_svg_draws_the_points_the_curve_ticks_labels_and_legend():
    sizes = np.array([1e3, 1e4, 1e5, 1e6])
    losses = 5.0 * sizes ** -0.3 + 1.0
    svg = log_log_svg(sizes, losses, curve=lambda n: 5.0 * n ** -0.3 + 1.0,
                      x_label="parameters N", y_label="validation loss",
                      title="loss against <size>", point_label="runs",
                      curve_label="L(N) = 5 * N^-0.300 + 1.000")
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    width, height = float(root.get("width")), float(root.get("height"))
    points = [(float(c.get("cx")), float(c.get("cy")))
              for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(points) == 4
    xs, ys = zip(*points)
    # log axes: sizes a decade apart are equally far apart, and the loss falls upwards in y
    np.testing.assert_allclose(np.diff(xs), np.diff(xs)[0], atol=0.15)
    assert list(ys) == sorted(ys)
    (curve,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "fit"]
    coordinates = svg_numbers(curve.get("d"))
    assert len(coordinates) >= 40 and np.all(np.isfinite(coordinates))
    assert all(0 <= x <= width for x in coordinates[0::2])
    assert all(0 <= y <= height for y in coordinates[1::2])
    # the curve passes through the points, which lie on it
    curve_x, curve_y = np.array(coordinates[0::2]), np.array(coordinates[1::2])
    np.testing.assert_allclose(np.interp(xs, curve_x, curve_y), ys, atol=1.0)

    texts = {t.get("class"): [] for t in root.iter(f"{SVG}text")}
    for t in root.iter(f"{SVG}text"):
        texts[t.get("class")].append(t.text)
    assert {"10k", "100k"} <= set(texts["x-tick"])
    y_ticks = [float(label) for label in texts["y-tick"]]
    assert len(y_ticks) >= 3 and min(losses) <= max(y_ticks) and min(y_ticks) <= max(losses)
    assert texts["axis-label"] == ["parameters N", "validation loss"]
    assert texts["legend"] == ["runs", "L(N) = 5 * N^-0.300 + 1.000"]
    assert "loss against <size>" in texts["title"]
    # a tick's label sits where a point of that value is drawn
    (ten_k,) = [t for t in root.iter(f"{SVG}text") if t.text == "10k"]
    assert abs(float(ten_k.get("x")) - xs[1]) < 0.15


def test_log_log_svg_without_a_curve_and_with_one_point():
    root = ET.fromstring(log_log_svg([2e5], [1.7]))
    points = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(points) == 1 and np.isfinite(float(points[0].get("cx")))
    assert not [p for p in root.iter(f"{SVG}path") if p.get("class") == "fit"]
    assert [t for t in root.iter(f"{SVG}text") if t.get("class") == "x-tick"]


@pytest.mark.parametrize("x, y, curve, message", [
    ([1e3, 0.0], [2.0, 1.0], None, r"x\[1\] = 0.0"),
    ([1e3, 1e4], [2.0, np.nan], None, r"y\[1\] = nan"),
    ([1e3, 1e4], [2.0], None, "2 x values but 1 y values"),
    ([], [], None, "at least one point"),
    ([1e3, 1e4], [2.0, 1.0], lambda n: 1.05 - n / 1e4, "curve"),
])
def test_log_log_svg_names_what_cannot_go_on_log_axes(x, y, curve, message):
    with pytest.raises(ValueError, match=message):
        log_log_svg(x, y, curve=curve)
