#!/usr/bin/env python3
"""Unit tests for prepare_data.py (stdlib unittest, numpy only).

Run from the directory holding the scripts: python3 -m unittest test_prepare_data
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


class PrepareDataTest(unittest.TestCase):
    """prepare_data.py: deterministic, valid, leak-free splits."""

    def test_same_seed_same_table(self) -> None:
        import prepare_data

        a = prepare_data.generate(500, 7)
        b = prepare_data.generate(500, 7)
        np.testing.assert_array_equal(a, b)

    def test_splits_are_disjoint_and_complete(self) -> None:
        import prepare_data

        table = prepare_data.generate(400, 1)
        table[:, 0] = np.arange(400)  # a row id, to check disjointness
        splits = prepare_data.split(table, 1)
        ids = [set(part[:, 0].tolist()) for part in splits.values()]
        self.assertEqual(sum(len(s) for s in ids), 400)
        self.assertEqual(len(set().union(*ids)), 400)

    def test_imputation_uses_train_medians_only(self) -> None:
        import prepare_data

        splits = prepare_data.split(prepare_data.generate(600, 3), 3)
        expected = float(np.nanmedian(splits["train"][:, 0]))
        medians = prepare_data.impute_with_train_medians(splits)
        self.assertEqual(medians["tenure_months"], expected)
        for part in splits.values():
            self.assertFalse(np.isnan(part).any())

    def test_validation_flags_out_of_range_values(self) -> None:
        import prepare_data

        table = prepare_data.generate(300, 2)
        table[0, 6] = 500.0  # age
        report = prepare_data.validate(table, [*prepare_data.FEATURES, prepare_data.TARGET])
        self.assertFalse(report["passed"])



if __name__ == "__main__":
    unittest.main()
