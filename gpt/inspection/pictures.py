"""Pictures without a plotting library: a terminal heatmap and two SVG files.

- `terminal_heatmap`: a matrix as Unicode shading (" ·░▒▓█", with a legend), or its values.
- `heatmap_svg`: the same as an SVG image with row and column labels (attention maps).
- `loss_curve_svg`: train and validation loss against iteration from metrics.jsonl.
- `log_log_svg`: points and a fitted curve on logarithmic axes (a scaling law).

SVG is plain XML text, so it is written with string formatting and opens in any browser.
"""
import math
from xml.sax.saxutils import escape

import numpy as np

# One shade per range of weights, from "hardly looks" to "looks mostly here". Fixed ranges,
# not a scale stretched to each matrix, so that two heatmaps can be compared by eye; the ranges
# grow by about 2x each, since a row of T weights averages 1/T.
SHADES = " ·░▒▓█"
SHADE_LIMITS = (0.02, 0.05, 0.1, 0.2, 0.4)      # SHADES[i] below SHADE_LIMITS[i]


def shade(value):
    """The character for a weight in [0, 1] (see SHADES and SHADE_LIMITS)."""
    return SHADES[int(np.searchsorted(SHADE_LIMITS, value, side="right"))]


def shade_legend():
    """One line saying which range of weights each shade stands for."""
    bounds = ("0",) + tuple(f"{limit:g}" for limit in SHADE_LIMITS) + ("1",)
    return "shades: " + "  ".join(f"'{char}' {low}-{high}"
                                  for char, low, high in zip(SHADES, bounds, bounds[1:]))


def token_label(text, width):
    """A token as a learner can read it: quoted, so " s" and "s" differ, with a newline as \\n
    and a tab as \\t; cut to `width` characters."""
    label = repr(text)
    return label if len(label) <= width else label[:width - 4] + "...'"


def terminal_heatmap(matrix, row_labels, col_labels, values=False, label_width=12):
    """Lines of text showing `matrix` (R, C) with values in [0, 1] (attention weights): a
    header of column numbers, one line per row (its number, its label, a shade per cell, or
    the weight itself with values=True), then the column labels by number and, for shades,
    the legend."""
    matrix = np.asarray(matrix, dtype=np.float64)
    number_width = len(str(max(len(row_labels), len(col_labels)) - 1))
    cell = 5 if values else number_width + 1
    prefix = " " * (number_width + 1 + label_width + 1)
    lines = [prefix + "".join(f"{j:>{cell}}" for j in range(len(col_labels)))]
    for i, (label, row) in enumerate(zip(row_labels, matrix)):
        if values:
            cells = "".join(f"{value:{cell}.2f}" for value in row)
        else:
            cells = "".join(f"{shade(value) * (cell - 1):>{cell}}" for value in row)
        lines.append(f"{i:>{number_width}} {token_label(label, label_width):<{label_width}} "
                     f"{cells}".rstrip())
    if list(col_labels) != list(row_labels):
        lines.append("columns: " + "  ".join(f"{j} {token_label(label, label_width)}"
                                             for j, label in enumerate(col_labels)))
    if not values:
        lines.append(shade_legend())
    return lines


def heatmap_svg(matrix, row_labels, col_labels, title=""):
    """SVG text: one grey square per cell (darker = larger), labels on both axes."""
    matrix = np.asarray(matrix, dtype=np.float64)
    size, left, top = 22, 110, 110
    rows, cols = matrix.shape
    width, height = left + cols * size + 20, top + rows * size + 20
    peak = matrix.max() if matrix.size and matrix.max() > 0 else 1.0
    parts = [_svg_open(width, height), f'<title>{escape(title)}</title>',
             f'<text x="10" y="20" font-size="14">{escape(title)}</text>']
    for i, label in enumerate(row_labels):
        parts.append(f'<text class="row-label" x="{left - 6}" y="{top + i * size + 15}" '
                     f'text-anchor="end" font-size="12">{escape(label)}</text>')
    for j, label in enumerate(col_labels):
        x, y = left + j * size + 15, top - 6
        parts.append(f'<text class="col-label" x="{x}" y="{y}" font-size="12" '
                     f'transform="rotate(-60 {x} {y})">{escape(label)}</text>')
    for i in range(rows):
        for j in range(cols):
            shade = int(255 * (1.0 - matrix[i, j] / peak))
            parts.append(f'<rect x="{left + j * size}" y="{top + i * size}" width="{size}" '
                         f'height="{size}" fill="rgb({shade},{shade},{shade})">'
                         f'<title>{matrix[i, j]:.3f}</title></rect>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def loss_curve_svg(metrics, title="loss"):
    """SVG text: training loss (every logged iteration) and validation loss (every evaluation)
    against iteration, one path per curve, with axes and a legend; a dot marks each
    evaluation, and the point of a curve that has only one (a path alone would be invisible)."""
    train = [(m["iter"], m["loss"]) for m in metrics if "loss" in m]
    val = [(m["iter"], m["val_loss"]) for m in metrics if "val_loss" in m]
    points = train + val
    width, height, left, bottom, right, top = 640, 400, 60, 40, 20, 40
    if not points:
        return _svg_open(width, height) + f"<title>{escape(title)}</title></svg>\n"
    its = [p[0] for p in points]
    losses = [p[1] for p in points]
    x_min, x_max = min(its), max(its)
    y_min, y_max = min(losses), max(losses)
    x_span, y_span = (x_max - x_min) or 1, (y_max - y_min) or 1

    def xy(it, loss):
        x = left + (it - x_min) / x_span * (width - left - right)
        y = top + (y_max - loss) / y_span * (height - top - bottom)
        return f"{x:.1f},{y:.1f}"

    parts = [_svg_open(width, height), f"<title>{escape(title)}</title>",
             f'<text x="{left}" y="24" font-size="14">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
             f'y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for value in np.linspace(y_min, y_max, 5):
        y = top + (y_max - value) / y_span * (height - top - bottom)
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{value:.2f}</text>')
    for value in np.linspace(x_min, x_max, 5):
        x = left + (value - x_min) / x_span * (width - left - right)
        parts.append(f'<text class="tick" x="{x:.1f}" y="{height - bottom + 16}" '
                     f'text-anchor="middle" font-size="11">{value:.0f}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" '
                 f'font-size="12">iteration</text>')
    for name, series, colour, y in (("train", train, "steelblue", 50), ("val", val, "darkorange", 66)):
        if series:
            path = "M " + " L ".join(xy(it, loss) for it, loss in series)
            parts.append(f'<path class="{name}" d="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.5"/>')
            if name == "val" or len(series) == 1:       # a dot where a line shows nothing
                for it, loss in series:
                    x, y = xy(it, loss).split(",")
                    parts.append(f'<circle class="{name}" cx="{x}" cy="{y}" r="3" '
                                 f'fill="{colour}"/>')
            parts.append(f'<text class="legend" x="{width - right - 80}" y="{y}" fill="{colour}" '
                         f'font-size="12">{name} loss</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def log_log_svg(x, y, curve=None, title="", x_label="", y_label="", point_label="measured",
                curve_label="fit"):
    """SVG text: points (x[i], y[i]) on logarithmic axes, a dot each, and optionally the curve
    y = curve(x) drawn across them as one path (a fitted law); ticks and labels on both axes,
    a legend. x, y: positive numbers (n,); curve: a function from an array of x values (K,) to
    their y values (K,), or None. On log-log axes a power law y = a * x^-alpha is a straight
    line of slope -alpha, and a constant added to it bends the line flat."""
    x, y = _positive_points(x, y)
    width, height, left, bottom, right, top = 640, 420, 70, 50, 20, 40
    x_low, x_high = _log_range(x)
    curve_x = np.geomspace(x_low, x_high, 121)
    curve_y = np.zeros(0)
    if curve is not None:
        curve_y = np.asarray(curve(curve_x), dtype=np.float64)
        if curve_y.shape != curve_x.shape or not np.all(np.isfinite(curve_y) & (curve_y > 0)):
            raise ValueError(f"log_log_svg: the curve must give one positive, finite y for each x "
                             f"from {x_low:.4g} to {x_high:.4g} (a log axis has no place for "
                             f"y <= 0)")
    y_low, y_high = _log_range(np.concatenate([y, curve_y]))

    def to_x(value):
        return left + math.log(value / x_low) / math.log(x_high / x_low) * (width - left - right)

    def to_y(value):
        return top + math.log(y_high / value) / math.log(y_high / y_low) * (height - top - bottom)

    parts = [_svg_open(width, height), f"<title>{escape(title)}</title>",
             f'<text class="title" x="{left}" y="24" font-size="14">{escape(title)}</text>',
             f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" '
             f'y2="{height - bottom}" stroke="black"/>',
             f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" '
             f'stroke="black"/>']
    for value in _log_ticks(x_low, x_high):
        px = to_x(value)
        parts.append(f'<line class="grid" x1="{px:.2f}" y1="{top}" x2="{px:.2f}" '
                     f'y2="{height - bottom + 4}" stroke="#ddd"/>')
        parts.append(f'<text class="x-tick" x="{px:.2f}" y="{height - bottom + 18}" '
                     f'text-anchor="middle" font-size="11">{_short_number(value)}</text>')
    for value in _log_ticks(y_low, y_high):
        py = to_y(value)
        parts.append(f'<line class="grid" x1="{left - 4}" y1="{py:.2f}" x2="{width - right}" '
                     f'y2="{py:.2f}" stroke="#ddd"/>')
        parts.append(f'<text class="y-tick" x="{left - 8}" y="{py + 4:.2f}" text-anchor="end" '
                     f'font-size="11">{_short_number(value)}</text>')
    if x_label:
        parts.append(f'<text class="axis-label" x="{(left + width - right) / 2}" '
                     f'y="{height - 10}" text-anchor="middle" font-size="12">'
                     f'{escape(x_label)}</text>')
    if y_label:
        middle = (top + height - bottom) / 2
        parts.append(f'<text class="axis-label" x="16" y="{middle}" text-anchor="middle" '
                     f'font-size="12" transform="rotate(-90 16 {middle})">{escape(y_label)}</text>')
    if curve is not None:
        path = "M " + " L ".join(f"{to_x(cx):.2f},{to_y(cy):.2f}"
                                 for cx, cy in zip(curve_x, curve_y))
        parts.append(f'<path class="fit" d="{path}" fill="none" stroke="darkorange" '
                     f'stroke-width="1.5"/>')
    for px, py in zip(x, y):
        parts.append(f'<circle class="point" cx="{to_x(px):.2f}" cy="{to_y(py):.2f}" r="4" '
                     f'fill="steelblue"><title>{px:,.10g}: {py:.4g}</title></circle>')
    legend_x = width - right - 240
    parts.append(f'<circle class="legend-mark" cx="{legend_x}" cy="{top + 6}" r="4" '
                 f'fill="steelblue"/>')
    parts.append(f'<text class="legend" x="{legend_x + 12}" y="{top + 10}" font-size="12">'
                 f'{escape(point_label)}</text>')
    if curve is not None:
        parts.append(f'<line class="legend-mark" x1="{legend_x - 6}" y1="{top + 24}" '
                     f'x2="{legend_x + 6}" y2="{top + 24}" stroke="darkorange" '
                     f'stroke-width="1.5"/>')
        parts.append(f'<text class="legend" x="{legend_x + 12}" y="{top + 28}" font-size="12">'
                     f'{escape(curve_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _positive_points(x, y):
    """x and y as float64 arrays (n,) of positive finite numbers, or a ValueError naming the
    first that is not."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"log_log_svg: {len(x)} x values but {len(y)} y values")
    if len(x) == 0:
        raise ValueError("log_log_svg: needs at least one point")
    for name, values in (("x", x), ("y", y)):
        for index, value in enumerate(values):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"log_log_svg: a log axis needs positive, finite values, got "
                                 f"{name}[{index}] = {value}")
    return x, y


def _log_range(values):
    """(low, high) around `values` on a log axis, with a margin of 6% of the span at each end
    (a factor of 1.5 for a single value), so that no dot sits on an axis."""
    low, high = float(np.min(values)), float(np.max(values))
    if low == high:
        return low / 1.5, high * 1.5
    margin = (high / low) ** 0.06
    return low / margin, high * margin


def _log_ticks(low, high):
    """Round values in [low, high] to label a log axis: powers of ten when the axis spans
    enough of them, else 1-2-5 or 1...9 times powers of ten, else (an axis narrower than a
    factor of two, as losses often are) evenly spaced round numbers. At least 2."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in ((1,), (1, 2, 5), range(1, 10)):
        ticks = [m * 10.0 ** e for e in decades for m in mantissas if low <= m * 10.0 ** e <= high]
        if len(ticks) >= 3:
            return ticks
    for step_exponent in range(math.floor(math.log10(high - low)) - 1, 
                               math.floor(math.log10(high - low)) + 1):
        for step_mantissa in (1, 2, 5):
            step = step_mantissa * 10.0 ** step_exponent
            first = math.ceil(low / step)
            ticks = [round(k * step, 12) for k in range(first, math.floor(high / step) + 1)]
            if 2 <= len(ticks) <= 6:
                return ticks
    return [low, high]


def _short_number(value):
    """A tick label: 20000 as 20k, 1500000 as 1.5M, 2.5 as 2.5."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _svg_open(width, height):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">')
