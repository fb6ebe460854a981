#!/usr/bin/env python3
"""Prepare a churn-like tabular dataset: generate, validate, split, impute, write.

The offline data-engineer runs this script. It builds a deterministic synthetic
table (numpy only, seed fixed), validates it (schema, nulls, ranges, class
balance), splits it into train/val/test BEFORE any fitted transform, imputes
missing values with medians fitted on the train split only, and writes the
splits as CSV plus a validation report (JSON and Markdown).

Usage: python3 prepare_data.py --out data --rows 6000 --seed 42 --table customers
Exit code 0 when validation passes, 2 when it fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

TARGET = "churned"
FEATURES: list[str] = [
    "tenure_months",
    "monthly_charges",
    "support_tickets",
    "contract_months",
    "days_since_login",
    "num_products",
    "age",
]
# Inclusive bounds every value must respect after imputation.
RANGES: dict[str, tuple[float, float]] = {
    "tenure_months": (0, 120),
    "monthly_charges": (5, 250),
    "support_tickets": (0, 50),
    "contract_months": (1, 24),
    "days_since_login": (0, 365),
    "num_products": (1, 8),
    "age": (18, 100),
    TARGET: (0, 1),
}
MISSING_RATE = 0.02
MIN_POSITIVE_RATE = 0.05
MAX_POSITIVE_RATE = 0.95


def generate(rows: int, seed: int) -> np.ndarray:
    """Return a (rows, features + 1) float array; the last column is the 0/1 target.

    A few feature values are NaN on purpose so the pipeline has to handle nulls.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 121, rows).astype(float)
    charges = np.clip(rng.normal(70, 30, rows), 5, 250).round(2)
    tickets = rng.poisson(1.5, rows).clip(0, 50).astype(float)
    contract = rng.choice([1.0, 12.0, 24.0], rows, p=[0.5, 0.3, 0.2])
    login = np.clip(rng.exponential(20, rows), 0, 365).round()
    products = rng.integers(1, 9, rows).astype(float)
    age = rng.integers(18, 101, rows).astype(float)
    # Churn grows with tickets, charges and inactivity; falls with tenure and long contracts.
    logit = (
        -1.2
        + 0.45 * (tickets - 1.5)
        + 0.02 * (charges - 70)
        + 0.03 * (login - 20)
        - 0.025 * (tenure - 60)
        - 0.06 * (contract - 6)
        - 0.1 * (products - 4.5)
    )
    prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
    target = (rng.random(rows) < prob).astype(float)
    table = np.column_stack([tenure, charges, tickets, contract, login, products, age, target])
    feature_block = table[:, : len(FEATURES)]
    feature_block[rng.random(feature_block.shape) < MISSING_RATE] = np.nan
    return table


def validate(table: np.ndarray, columns: list[str]) -> dict[str, Any]:
    """Check schema, nulls, ranges and class balance; return a report with `passed`."""
    problems: list[str] = []
    expected = [*FEATURES, TARGET]
    if columns != expected:
        problems.append(f"schema: expected columns {expected}, got {columns}")
    nulls = {c: int(np.isnan(table[:, i]).sum()) for i, c in enumerate(columns)}
    if nulls.get(TARGET, 0) > 0:
        problems.append(f"nulls: target has {nulls[TARGET]} missing labels")
    for c, n in nulls.items():
        if n > 0.2 * len(table):
            problems.append(f"nulls: column {c} is {n / len(table):.0%} missing (limit 20%)")
    out_of_range: dict[str, int] = {}
    for i, c in enumerate(columns):
        lo, hi = RANGES[c]
        col = table[:, i]
        present = col[~np.isnan(col)]
        bad = int(((present < lo) | (present > hi)).sum())
        out_of_range[c] = bad
        if bad:
            problems.append(f"ranges: {bad} values of {c} outside [{lo}, {hi}]")
    labels = table[:, -1]
    positive_rate = float(np.nanmean(labels)) if len(labels) else 0.0
    if not MIN_POSITIVE_RATE <= positive_rate <= MAX_POSITIVE_RATE:
        problems.append(f"class balance: positive rate {positive_rate:.3f} outside [{MIN_POSITIVE_RATE}, {MAX_POSITIVE_RATE}]")
    return {
        "passed": not problems,
        "problems": problems,
        "rows": int(len(table)),
        "columns": columns,
        "nulls": nulls,
        "out_of_range": out_of_range,
        "positive_rate": positive_rate,
    }


def split(table: np.ndarray, seed: int, val: float = 0.15, test: float = 0.15) -> dict[str, np.ndarray]:
    """Shuffle rows with a fixed seed and cut them into disjoint train/val/test splits."""
    order = np.random.default_rng(seed + 1).permutation(len(table))
    n_test = int(round(len(table) * test))
    n_val = int(round(len(table) * val))
    return {
        "test": table[order[:n_test]],
        "val": table[order[n_test : n_test + n_val]],
        "train": table[order[n_test + n_val :]],
    }


def impute_with_train_medians(splits: dict[str, np.ndarray]) -> dict[str, float]:
    """Fill NaNs in every split with medians fitted on the train split only (no leakage)."""
    medians = {c: float(np.nanmedian(splits["train"][:, i])) for i, c in enumerate(FEATURES)}
    for part in splits.values():
        for i, c in enumerate(FEATURES):
            col = part[:, i]
            col[np.isnan(col)] = medians[c]
    return medians


def write_csv(path: Path, table: np.ndarray, columns: list[str]) -> None:
    """Write a numeric table as CSV with a header row."""
    np.savetxt(path, table, delimiter=",", header=",".join(columns), comments="", fmt="%.6g")


def report_markdown(report: dict[str, Any], table_name: str) -> str:
    """Render the validation report for people."""
    lines = [
        f"# Data validation: {table_name}",
        "",
        f"- result: {'PASSED' if report['passed'] else 'FAILED'}",
        f"- rows: {report['rows']} (train {report['splits']['train']}, val {report['splits']['val']}, test {report['splits']['test']})",
        f"- positive rate ({TARGET}): {report['positive_rate']:.3f}",
        f"- nulls before imputation: {sum(report['nulls'].values())} (imputed with train-split medians)",
        f"- seed: {report['seed']}",
    ]
    lines += [f"- problem: {p}" for p in report["problems"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", help="output directory")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--table", default="customers", help="name of the source table (for the report)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = [*FEATURES, TARGET]
    table = generate(args.rows, args.seed)
    report = validate(table, columns)
    # Split first, then fit the imputer on train only: fitted transforms never see val/test.
    splits = split(table, args.seed)
    report["imputation_medians"] = impute_with_train_medians(splits)
    report["splits"] = {name: int(len(part)) for name, part in splits.items()}
    report["seed"] = args.seed
    report["table"] = args.table
    for name, part in splits.items():
        write_csv(out / f"{name}.csv", part, columns)
    (out / "validation_report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out / "validation_report.md").write_text(report_markdown(report, args.table))
    print(json.dumps({"rows": report["rows"], "positive_rate": report["positive_rate"], "passed": report["passed"]}))
    return 0 if report["passed"] else 2


if __name__ == "__main__":
    sys.exit(main())
