#!/usr/bin/env python3
"""Analyse a training run (or, for EDA, a dataset) and write a Markdown report.

The offline analyst runs this script. With --metrics it compares the model
with the majority-class baseline (and says plainly when no previous model's
metrics are available); with --history it draws the loss curve as a PNG
(matplotlib where it is installed, else a built-in numpy + zlib renderer with
the same axes, ticks, labels, title and legend); with --data it adds an exploratory
section: class balance and, per feature, class means with a Welch t-test.

Usage: python3 analyze.py --out reports [--metrics m.json] [--history h.json]
       [--data data/train.csv] [--validation v.json] [--previous-model m.json | --previous-model-wanted]
       [--plot-note "synthetic demo data"]
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np


def welch_t_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and a two-sided p-value (normal approximation; fine for n > 30)."""
    var = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    if var <= 0:
        return 0.0, 1.0
    t = float((a.mean() - b.mean()) / math.sqrt(var))
    return t, math.erfc(abs(t) / math.sqrt(2.0))


# The loss plot's size in pixels (width, height) and resolution, whichever renderer draws it.
PLOT_SIZE = (640, 400)
PLOT_DPI = 100
TRAIN_COLOR = (31, 119, 180)
VAL_COLOR = (255, 127, 14)

# A 5x7 bitmap font for the fallback renderer: per glyph, seven rows of five bits (MSB left).
GLYPHS: dict[str, tuple[int, ...]] = {
    " ": (0, 0, 0, 0, 0, 0, 0),
    "0": (14, 17, 19, 21, 25, 17, 14),
    "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31),
    "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2),
    "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14),
    "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14),
    "9": (14, 17, 17, 15, 1, 2, 12),
    ".": (0, 0, 0, 0, 0, 12, 12),
    ",": (0, 0, 0, 0, 12, 4, 8),
    "-": (0, 0, 0, 31, 0, 0, 0),
    ":": (0, 12, 12, 0, 12, 12, 0),
    "(": (2, 4, 8, 8, 8, 4, 2),
    ")": (8, 4, 2, 2, 2, 4, 8),
    "A": (14, 17, 17, 17, 31, 17, 17),
    "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14),
    "D": (28, 18, 17, 17, 17, 18, 28),
    "E": (31, 16, 16, 30, 16, 16, 31),
    "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15),
    "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14),
    "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17),
    "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17),
    "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14),
    "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13),
    "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30),
    "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14),
    "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10),
    "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4),
    "Z": (31, 1, 2, 4, 8, 16, 31),
}


def png_bytes(pixels: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """Encode an (h, w, 3) uint8 array as a PNG file, with optional tEXt metadata (e.g. Software)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    meta = b"".join(chunk(b"tEXt", k.encode("latin-1") + b"\x00" + v.encode("latin-1")) for k, v in (text or {}).items())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + meta + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) that cover [lo, hi]."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    raw = span / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    if last <= first:
        last = first + step
    n = int(round((last - first) / step))
    return [round(first + i * step, 12) for i in range(n + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's text with as many decimals as the tick spacing needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """The pixels of `text` in the 5x7 font (upper case; unknown characters as blanks), as a bool array."""
    cells = [GLYPHS.get(c, GLYPHS[" "]) for c in text.upper()]
    mask = np.zeros((7, max(6 * len(cells) - 1, 1)), dtype=bool)
    for i, rows in enumerate(cells):
        for r, bits in enumerate(rows):
            for c in range(5):
                mask[r, 6 * i + c] = bool(bits >> (4 - c) & 1)
    return np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)


def stamp(img: np.ndarray, mask: np.ndarray, x: int, y: int, color: tuple[int, int, int]) -> None:
    """Paint `mask` onto `img` with its top-left corner at (x, y), clipped to the canvas."""
    h, w = mask.shape
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + h, img.shape[0]), min(x + w, img.shape[1])
    if y1 > y0 and x1 > x0:
        img[y0:y1, x0:x1][mask[y0 - y : y1 - y, x0 - x : x1 - x]] = color


def draw_line(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], color: tuple[int, int, int], width: int = 1) -> None:
    """A straight line `width` pixels thick between two (x, y) points."""
    (x0, y0), (x1, y1) = p0, p1
    steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    lo, hi = -(width // 2), width - width // 2
    for k in range(steps + 1):
        x = int(round(x0 + (x1 - x0) * k / steps))
        y = int(round(y0 + (y1 - y0) * k / steps))
        img[max(y + lo, 0) : max(y + hi, 0), max(x + lo, 0) : max(x + hi, 0)] = color


def render_fallback(series: list[tuple[str, list[float], tuple[int, int, int]]], title: str, subtitle: str = "") -> np.ndarray:
    """The loss plot without a plotting library: axes with ticks and labels, a grid, a title and a legend."""
    width, height = PLOT_SIZE
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 78, width - 20, 58 if subtitle else 44, height - 56
    black, grey = (0, 0, 0), (225, 225, 225)
    mask = text_mask(title, 2)
    stamp(img, mask, (width - mask.shape[1]) // 2, 12, black)
    if subtitle:
        mask = text_mask(subtitle)
        stamp(img, mask, (width - mask.shape[1]) // 2, 36, (90, 90, 90))
    values = [v for _, ys, _ in series for v in ys if math.isfinite(v)]
    n = max((len(ys) for _, ys, _ in series), default=1)
    yt = nice_ticks(min(values), max(values)) if values else [0.0, 1.0]
    xt = [float(v) for v in nice_ticks(1, max(n, 2), min(max(n - 1, 1), 8)) if v >= 1 and float(v).is_integer()]

    def to_px(epoch: float, loss: float) -> tuple[float, float]:
        x = left + (right - left) * (epoch - 1) / max(n - 1, 1)
        return x, bottom - (bottom - top) * (loss - yt[0]) / (yt[-1] - yt[0])

    for v in yt:
        y = int(round(to_px(1, v)[1]))
        img[y, left + 1 : right] = grey
        img[y, left - 5 : left] = black
        mask = text_mask(tick_label(v, yt))
        stamp(img, mask, left - 9 - mask.shape[1], y - 3, black)
    for v in xt:
        x = int(round(to_px(v, yt[0])[0]))
        img[top:bottom, x] = grey
        img[bottom : bottom + 5, x] = black
        mask = text_mask(tick_label(v, [0.0, 1.0]))
        stamp(img, mask, x - mask.shape[1] // 2, bottom + 9, black)
    mask = text_mask("epoch")
    stamp(img, mask, (left + right - mask.shape[1]) // 2, bottom + 28, black)
    mask = np.rot90(text_mask("loss (log loss)"))
    stamp(img, mask, 14, (top + bottom - mask.shape[0]) // 2, black)
    for _, ys, color in series:
        pts = [to_px(i + 1, y) for i, y in enumerate(ys) if math.isfinite(y)]
        for a, b in zip(pts, pts[1:]):
            draw_line(img, a, b, color, 2)
        for x, y in pts:
            img[max(int(y) - 2, 0) : int(y) + 3, max(int(x) - 2, 0) : int(x) + 3] = color
    # The axes go over the curves, as a plotting library draws them.
    img[top : bottom + 1, left] = black
    img[bottom, left : right + 1] = black
    box_w = 26 + 6 * max(len(name) for name, _, _ in series)
    bx, by = right - box_w - 8, top + 8
    img[by : by + 12 * len(series) + 8, bx : bx + box_w] = 255
    img[by, bx : bx + box_w] = img[by + 12 * len(series) + 8, bx : bx + box_w] = (160, 160, 160)
    img[by : by + 12 * len(series) + 9, bx] = img[by : by + 12 * len(series) + 9, bx + box_w] = (160, 160, 160)
    for i, (name, _, color) in enumerate(series):
        y = by + 8 + 12 * i
        draw_line(img, (bx + 5, y + 3), (bx + 17, y + 3), color, 2)
        stamp(img, text_mask(name), bx + 22, y, black)
    return img


def render_matplotlib(series: list[tuple[str, list[float], tuple[int, int, int]]], title: str, subtitle: str, path: Path) -> str:
    """Draw the loss plot with matplotlib (Agg, fixed size and dpi); returns matplotlib's version. Raises ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context({"font.size": 10, "axes.titlesize": 12}):
        fig, ax = plt.subplots(figsize=(PLOT_SIZE[0] / PLOT_DPI, PLOT_SIZE[1] / PLOT_DPI), dpi=PLOT_DPI)
        for name, ys, color in series:
            epochs = list(range(1, len(ys) + 1))
            ax.plot(epochs, ys, marker="o", markersize=3, linewidth=1.8, color=[c / 255 for c in color], label=name)
        val = series[-1][1]
        if val and all(math.isfinite(v) for v in val):
            best = min(range(len(val)), key=lambda i: val[i])
            ax.scatter([best + 1], [val[best]], s=60, marker="*", color="black", zorder=3, label=f"lowest {series[-1][0]} (epoch {best + 1})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (log loss)")
        if subtitle:
            fig.suptitle(title, fontsize=12)
            ax.set_title(subtitle, fontsize=9, color="dimgray")
        else:
            ax.set_title(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", frameon=True)
        fig.tight_layout()
        fig.savefig(path, dpi=PLOT_DPI, metadata={"Software": f"matplotlib {matplotlib.__version__} (mllead analyze.py)"})
        plt.close(fig)
    return str(matplotlib.__version__)


def plot_losses(train: list[float], val: list[float], path: Path, subtitle: str = "") -> str:
    """Write the loss curves to `path` as a PNG: with matplotlib where it is installed, else the built-in fallback.

    Returns what drew it: "matplotlib <version>" or "fallback".
    """
    series = [("train loss", train, TRAIN_COLOR), ("validation loss", val, VAL_COLOR)]
    title = "Training and validation loss"
    try:
        return f"matplotlib {render_matplotlib(series, title, subtitle, path)}"
    except ImportError:
        pixels = render_fallback(series, title, subtitle)
        path.write_bytes(png_bytes(pixels, {"Software": "mllead analyze.py fallback renderer (no matplotlib)"}))
        return "fallback"


def model_section(metrics: dict[str, float], previous: dict[str, float] | None, previous_wanted: bool) -> tuple[list[str], dict[str, float]]:
    """Compare the model with the baseline (and a previous model when given)."""
    auc = metrics.get("val_auc", float("nan"))
    acc = metrics.get("val_accuracy", float("nan"))
    base_acc = metrics.get("baseline_accuracy", float("nan"))
    base_auc = metrics.get("baseline_auc", 0.5)
    out = {"auc_lift": auc - base_auc, "accuracy_lift": acc - base_acc}
    lines = [
        "## Model vs baseline",
        "",
        "| metric | model | majority-class baseline | lift |",
        "| --- | --- | --- | --- |",
        f"| val AUC | {auc:.4f} | {base_auc:.4f} | {out['auc_lift']:+.4f} |",
        f"| val accuracy | {acc:.4f} | {base_acc:.4f} | {out['accuracy_lift']:+.4f} |",
    ]
    if "test_auc" in metrics:
        lines.append(f"| test AUC | {metrics['test_auc']:.4f} | {base_auc:.4f} | {metrics['test_auc'] - base_auc:+.4f} |")
    verdict = "beats" if out["auc_lift"] > 0.02 and out["accuracy_lift"] >= 0 else "does not clearly beat"
    lines += ["", f"The model {verdict} the majority-class baseline on the validation split."]
    if previous is not None:
        prev_auc = previous.get("val_auc", float("nan"))
        out["auc_vs_previous"] = auc - prev_auc
        lines.append(f"Against the previous model (val AUC {prev_auc:.4f}) the change is {out['auc_vs_previous']:+.4f}.")
    elif previous_wanted:
        lines.append(
            "The task asks for a comparison with a previous model, but no previous model's metrics are available "
            "here, so the comparison is against the majority-class baseline only."
        )
    return lines, out


def data_section(path: Path) -> tuple[list[str], dict[str, float]]:
    """Class balance and per-feature class means with Welch t-tests."""
    with path.open() as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    y = table[:, -1]
    pos_rate = float(y.mean())
    lines = [
        "## Exploratory analysis",
        "",
        f"{len(y)} rows; positive rate of `{header[-1]}` is {pos_rate:.3f}.",
        "",
        "| feature | mean (positive) | mean (negative) | Welch t | p-value |",
        "| --- | --- | --- | --- | --- |",
    ]
    significant = 0
    for i, name in enumerate(header[:-1]):
        a, b = table[y == 1, i], table[y == 0, i]
        t, p = welch_t_test(a, b)
        significant += p < 0.01
        lines.append(f"| {name} | {a.mean():.3f} | {b.mean():.3f} | {t:+.2f} | {p:.2g} |")
    lines += ["", f"{significant} of {len(header) - 1} features differ between classes at p < 0.01."]
    return lines, {"positive_rate": pos_rate, "significant_features": float(significant)}


def main(argv: list[str] | None = None) -> int:
    """Write reports/report.md (and loss.png, analysis.json); return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports")
    parser.add_argument("--metrics", type=Path)
    parser.add_argument("--history", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--validation", type=Path)
    parser.add_argument("--previous-model", type=Path)
    parser.add_argument("--previous-model-wanted", action="store_true")
    parser.add_argument("--title", default="Analysis report")
    parser.add_argument("--plot-note", default="", help="a line under the loss plot's title, e.g. where the data came from")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {args.title}", ""]
    summary: dict[str, Any] = {}
    if args.validation and args.validation.exists():
        v = json.loads(args.validation.read_text())
        lines += [f"Data validation {'passed' if v.get('passed') else 'FAILED'}: {v.get('rows')} rows, seed {v.get('seed')}.", ""]
    if args.metrics and args.metrics.exists():
        metrics = json.loads(args.metrics.read_text())
        previous = json.loads(args.previous_model.read_text()) if args.previous_model and args.previous_model.exists() else None
        section, numbers = model_section(metrics, previous, args.previous_model_wanted)
        lines += section + [""]
        summary.update(numbers)
    if args.history and args.history.exists():
        history = json.loads(args.history.read_text())
        train = [float(r["train_loss"]) for r in history]
        val = [float(r["val_loss"]) for r in history]
        renderer = plot_losses(train, val, out / "loss.png", args.plot_note)
        decreasing = all(b <= a + 1e-9 for a, b in zip(train, train[1:]))
        summary["loss_decreased"] = float(decreasing)
        summary["plot_renderer"] = renderer
        drawn = (
            f"drawn with {renderer}"
            if renderer != "fallback"
            else "drawn by analyze.py's built-in fallback renderer: matplotlib is not installed for this python3 "
            "(install python3-matplotlib for a full plot)"
        )
        lines += [
            "## Training curve",
            "",
            f"![loss](loss.png) (blue: train loss, orange: validation loss; {drawn})",
            "",
            f"Train loss went from {train[0]:.4f} to {train[-1]:.4f} over {len(train)} epochs"
            + (" and decreased every epoch." if decreasing else "; it did not decrease every epoch."),
            "",
        ]
    if args.data and args.data.exists():
        section, numbers = data_section(args.data)
        lines += section + [""]
        summary.update(numbers)
    if len(lines) <= 2:
        print("nothing to analyse: pass --metrics, --history or --data", file=sys.stderr)
        return 2
    (out / "report.md").write_text("\n".join(lines))
    (out / "analysis.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
