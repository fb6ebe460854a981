#!/usr/bin/env python3
"""Unit tests for analyze.py (stdlib unittest and numpy; matplotlib when installed).

Run from the directory holding the scripts: python3 -m unittest test_analyze
"""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG file."""
    out, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        out.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def png_text(data: bytes) -> dict[str, str]:
    """A PNG's tEXt metadata."""
    pairs = [body.split(b"\x00", 1) for kind, body in png_chunks(data) if kind == b"tEXt"]
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in pairs}


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's (width, height) from its header."""
    header = png_chunks(data)[0][1]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")


class AnalyzeTest(unittest.TestCase):
    """analyze.py: statistics, PNG encoding and the report."""

    def test_welch_t_test_separates_shifted_samples(self) -> None:
        import analyze

        rng = np.random.default_rng(0)
        t, p = analyze.welch_t_test(rng.normal(1.0, 1.0, 500), rng.normal(0.0, 1.0, 500))
        self.assertGreater(t, 5)
        self.assertLess(p, 1e-6)

    def test_png_is_well_formed(self) -> None:
        import analyze

        pixels = analyze.render_fallback([("train loss", [3.0, 2.0, 1.5], (0, 0, 255))], "Loss")
        data = analyze.png_bytes(pixels, {"Software": "test"})
        self.assertTrue(data.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertEqual(png_text(data), {"Software": "test"})
        idat = data.index(b"IDAT")
        length = int.from_bytes(data[idat - 4 : idat], "big")
        raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
        width, height = analyze.PLOT_SIZE
        self.assertEqual(len(raw), height * (1 + width * 3))

    def test_nice_ticks_are_round_and_cover_the_range(self) -> None:
        import analyze

        self.assertEqual(analyze.nice_ticks(0.4503, 0.6412), [0.45, 0.5, 0.55, 0.6, 0.65])
        self.assertEqual(analyze.nice_ticks(1, 20, 8), [0.0, 5.0, 10.0, 15.0, 20.0])
        self.assertEqual(analyze.tick_label(0.45, [0.4, 0.45]), "0.45")
        flat = analyze.nice_ticks(0.5, 0.5)
        self.assertLessEqual(flat[0], 0.5)
        self.assertGreater(flat[-1], flat[0])

    def test_fallback_plot_has_axes_ticks_title_and_legend(self) -> None:
        import analyze

        series = [("train loss", [0.7, 0.5, 0.45], analyze.TRAIN_COLOR), ("validation loss", [0.72, 0.55, 0.5], analyze.VAL_COLOR)]
        img = analyze.render_fallback(series, "Training and validation loss", "synthetic data")
        width, height = analyze.PLOT_SIZE
        self.assertEqual(img.shape, (height, width, 3))
        dark = (img.sum(axis=2) < 100)
        # The y axis: a dark column from the top of the plot area to the x axis, and a dark x axis row.
        self.assertTrue(dark[60 : height - 56, 78].all())
        self.assertTrue(dark[height - 56, 78 : width - 20].all())
        # Text: the title (top band), tick labels left of the y axis and under the x axis.
        self.assertGreater(dark[8:32].sum(), 200)
        self.assertGreater(dark[60 : height - 56, 20:70].sum(), 100)
        self.assertGreater(dark[height - 50 : height - 20, 80:].sum(), 100)
        # Both curves are drawn, in the legend too (the legend box sits top right).
        for color in (analyze.TRAIN_COLOR, analyze.VAL_COLOR):
            self.assertGreater((img == color).all(axis=2).sum(), 100)
            self.assertTrue((img[60:100, width // 2 :] == color).all(axis=2).any())

    def test_loss_plot_uses_matplotlib_when_installed(self) -> None:
        import analyze

        try:
            import matplotlib  # noqa: F401

            expected = "matplotlib"
        except ImportError:
            expected = "mllead analyze.py fallback renderer"
        with tempfile.TemporaryDirectory() as tmp:
            renderer = analyze.plot_losses([0.7, 0.5, 0.45], [0.72, 0.55, 0.5], Path(tmp) / "loss.png", "note")
            data = (Path(tmp) / "loss.png").read_bytes()
        self.assertTrue(png_text(data)["Software"].startswith(expected))
        self.assertEqual(renderer.split(" ")[0], expected.split(" ")[0] if expected == "matplotlib" else "fallback")
        self.assertEqual(png_size(data), analyze.PLOT_SIZE)

    def test_report_says_when_the_plot_is_the_fallback(self) -> None:
        import analyze

        with tempfile.TemporaryDirectory() as tmp:
            history = Path(tmp) / "history.json"
            history.write_text(json.dumps([{"train_loss": 0.7 - i / 20, "val_loss": 0.72 - i / 25} for i in range(5)]))
            saved = sys.modules.get("matplotlib")
            sys.modules["matplotlib"] = None  # type: ignore[assignment]  # import matplotlib now raises ImportError
            try:
                code = analyze.main(["--out", tmp, "--history", str(history)])
            finally:
                if saved is None:
                    del sys.modules["matplotlib"]
                else:
                    sys.modules["matplotlib"] = saved
            self.assertEqual(code, 0)
            data = (Path(tmp) / "loss.png").read_bytes()
            self.assertEqual(png_size(data), analyze.PLOT_SIZE)
            self.assertIn("fallback", png_text(data)["Software"])
            self.assertIn("fallback renderer: matplotlib is not installed", (Path(tmp) / "report.md").read_text())
            self.assertEqual(json.loads((Path(tmp) / "analysis.json").read_text())["plot_renderer"], "fallback")

    def test_report_compares_with_baseline_and_admits_missing_previous_model(self) -> None:
        import analyze

        with tempfile.TemporaryDirectory() as tmp:
            metrics = Path(tmp) / "metrics.json"
            metrics.write_text(json.dumps({"val_auc": 0.8, "val_accuracy": 0.8, "baseline_accuracy": 0.7, "baseline_auc": 0.5}))
            code = analyze.main(["--out", tmp, "--metrics", str(metrics), "--previous-model-wanted"])
            self.assertEqual(code, 0)
            report = (Path(tmp) / "report.md").read_text()
            self.assertIn("+0.3000", report)
            self.assertIn("no previous model's metrics are available", report)


if __name__ == "__main__":
    unittest.main()
