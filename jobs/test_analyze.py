#!/usr/bin/env python3
"""Unit tests for analyze.py (stdlib unittest, numpy only).

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

        data = analyze.png_bytes(analyze.draw_curves([([3.0, 2.0, 1.5], (0, 0, 255))], 64, 48))
        self.assertTrue(data.startswith(b"\x89PNG\r\n\x1a\n"))
        idat = data.index(b"IDAT")
        length = int.from_bytes(data[idat - 4 : idat], "big")
        raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
        self.assertEqual(len(raw), 48 * (1 + 64 * 3))

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
