"""Pictures without a plotting library: a terminal heatmap and two SVG files.

- `terminal_heatmap`: a matrix as Unicode shading (" ░▒▓█"), optionally with the values.
- `heatmap_svg`: the same as an SVG image with row and column labels (attention maps).
- `loss_curve_svg`: train and validation loss against iteration from metrics.jsonl.

SVG is plain XML text, so it is written with string formatting and opens in any browser.
"""
from xml.sax.saxutils import escape

import numpy as np

SHADES = " ░▒▓█"


def terminal_heatmap(matrix, row_labels, col_labels, values=False, label_width=12):
    """Lines of text showing `matrix` (R, C) with values in [0, 1] (attention weights) as
    shades, one character per cell (or a 4-digit value per cell with values=True)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    cell = 5 if values else 1
    header = " " * (label_width + 1) + "".join(_fit(label, cell) for label in col_labels)
    lines = [header] if values else _vertical_labels(col_labels, label_width)
    for label, row in zip(row_labels, matrix):
        if values:
            cells = "".join(f"{value:5.2f}" for value in row)
        else:
            cells = "".join(SHADES[min(int(value * len(SHADES)), len(SHADES) - 1)]
                            for value in np.clip(row, 0.0, 1.0))
        lines.append(f"{_fit(label, label_width)} {cells}")
    return lines


def _fit(label, width):
    label = label.replace("\n", "\\n")
    return label[:width].rjust(width)


def _vertical_labels(labels, label_width):
    """Column labels written top to bottom, one character per column (cells are one wide)."""
    names = [label.replace("\n", "\\n") for label in labels]
    depth = min(max((len(name) for name in names), default=0), 8)
    return [" " * (label_width + 1) + "".join(name[i] if i < len(name) else " " for name in names)
            for i in range(depth)]


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
    against iteration, one path per curve, with axes and a legend."""
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
            parts.append(f'<text class="legend" x="{width - right - 80}" y="{y}" fill="{colour}" '
                         f'font-size="12">{name} loss</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_open(width, height):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">')
