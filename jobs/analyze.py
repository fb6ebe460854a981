#!/usr/bin/env python3
"""Analyse a training run (or, for EDA, a dataset) and write a Markdown report.

The offline analyst runs this script. With --metrics it compares the model
with the majority-class baseline (and says plainly when no previous model's
metrics are available); with --history it draws the loss curve as a PNG
(numpy + zlib, no plotting library); with --data it adds an exploratory
section: class balance and, per feature, class means with a Welch t-test.

Usage: python3 analyze.py --out reports [--metrics m.json] [--history h.json]
       [--data data/train.csv] [--validation v.json] [--previous-model m.json | --previous-model-wanted]
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


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an (h, w, 3) uint8 array as a PNG file."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def draw_curves(series: list[tuple[list[float], tuple[int, int, int]]], width: int = 480, height: int = 300) -> np.ndarray:
    """Draw line series on a white canvas with axes; y is scaled to the data's range."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 40, width - 15, 15, height - 30
    img[top:bottom, left] = 0
    img[bottom, left:right] = 0
    values = [v for s, _ in series for v in s if math.isfinite(v)]
    if not values:
        return img
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    for ys, color in series:
        n = len(ys)
        pts = [
            (left + (right - left) * (i / max(n - 1, 1)), bottom - (bottom - top) * ((y - lo) / span))
            for i, y in enumerate(ys)
            if math.isfinite(y)
        ]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            for k in range(steps + 1):
                x = int(round(x0 + (x1 - x0) * k / steps))
                y = int(round(y0 + (y1 - y0) * k / steps))
                img[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = color
        for x, y in pts:
            img[max(int(y) - 3, 0) : int(y) + 4, max(int(x) - 3, 0) : int(x) + 4] = color
    return img


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
        (out / "loss.png").write_bytes(png_bytes(draw_curves([(train, (31, 119, 180)), (val, (255, 127, 14))])))
        decreasing = all(b <= a + 1e-9 for a, b in zip(train, train[1:]))
        summary["loss_decreased"] = float(decreasing)
        lines += [
            "## Training curve",
            "",
            "![loss](loss.png) (blue: train loss, orange: val loss)",
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
