#!/usr/bin/env python3
"""Unit tests for train.py (stdlib unittest, numpy only).

Run from the directory holding the scripts: python3 -m unittest test_train
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


class TrainTest(unittest.TestCase):
    """train.py: stable maths and an end-to-end run."""

    def test_sigmoid_and_loss_are_stable(self) -> None:
        import train

        z = np.array([-1000.0, 0.0, 1000.0])
        self.assertTrue(np.isfinite(train.sigmoid(z)).all())
        self.assertTrue(np.isfinite(train.bce_with_logits(z, np.array([1.0, 0.0, 0.0]))))

    def test_auc_of_perfect_and_reversed_scores(self) -> None:
        import train

        y = np.array([0.0, 0.0, 1.0, 1.0])
        self.assertEqual(train.roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])), 1.0)
        self.assertEqual(train.roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])), 0.0)

    def test_training_writes_metrics(self) -> None:
        import train

        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            data.mkdir()
            for name, rows in (("train", 400), ("val", 100), ("test", 100)):
                x = rng.normal(size=(rows, 3))
                y = (x[:, 0] + 0.5 * rng.normal(size=rows) > 0).astype(float)
                np.savetxt(data / f"{name}.csv", np.column_stack([x, y]), delimiter=",", header="a,b,c,y", comments="")
            os.environ["MLLEAD_ARTIFACTS_DIR"] = str(Path(tmp) / "out")
            code = train.main(["--data", str(data), "--epochs", "3"])
            self.assertEqual(code, 0)
            metrics = json.loads((Path(tmp) / "out" / "metrics.json").read_text())
            self.assertGreater(metrics["val_auc"], 0.8)
            self.assertGreater(metrics["val_auc"], metrics["baseline_auc"])

if __name__ == "__main__":
    unittest.main()
