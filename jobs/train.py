#!/usr/bin/env python3
"""Train a binary classifier on the prepared splits with numpy only.

The offline ml-engineer submits this script as a GPU job. It loads
train/val/test CSVs once, standardises features with statistics fitted on the
train split only, trains a logistic regression (or a one-hidden-layer MLP)
with mini-batch gradient descent and a fixed seed, and reports validation and
test metrics next to a majority-class baseline.

Progress goes to stdout as `::mllead-progress {json}` lines; outputs
(metrics.json, history.json, model.npz) go to $MLLEAD_ARTIFACTS_DIR.

Usage: python3 train.py --data data --epochs 10 --lr 0.1 --model logreg --seed 42
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

PROGRESS_PREFIX = "::mllead-progress "


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load one CSV split; the last column is the 0/1 target."""
    with path.open() as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return table[:, :-1], table[:, -1], header[:-1]


def ensure_data(data_dir: Path, seed: int) -> None:
    """Generate the splits with prepare_data.py when no data step ran (a pure model change)."""
    if (data_dir / "train.csv").exists():
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import prepare_data  # noqa: PLC0415 - only needed when no data step ran

    prepare_data.main(["--out", str(data_dir), "--seed", str(seed)])


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for large |z|)."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def bce_with_logits(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy computed from logits with log-sum-exp (stable)."""
    return float(np.mean(np.logaddexp(0.0, logits) - y * logits))


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney statistic with average ranks for ties."""
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class Model:
    """Logistic regression, or an MLP with one tanh hidden layer when `hidden` > 0."""

    def __init__(self, n_features: int, hidden: int, rng: np.random.Generator) -> None:
        self.hidden = hidden
        if hidden > 0:
            self.w1 = rng.normal(0.0, 1.0 / np.sqrt(n_features), (n_features, hidden))
            self.b1 = np.zeros(hidden)
            self.w2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), hidden)
        else:
            self.w2 = np.zeros(n_features)
        self.b2 = 0.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Raw scores before the sigmoid."""
        h = np.tanh(x @ self.w1 + self.b1) if self.hidden > 0 else x
        return h @ self.w2 + self.b2

    def step(self, x: np.ndarray, y: np.ndarray, lr: float, l2: float) -> None:
        """One gradient-descent update on a mini-batch."""
        n = len(y)
        if self.hidden > 0:
            h = np.tanh(x @ self.w1 + self.b1)
            err = sigmoid(h @ self.w2 + self.b2) - y
            grad_w2 = h.T @ err / n + l2 * self.w2
            dh = np.outer(err, self.w2) * (1.0 - h**2)
            self.w1 -= lr * (x.T @ dh / n + l2 * self.w1)
            self.b1 -= lr * dh.mean(axis=0)
        else:
            err = sigmoid(x @ self.w2 + self.b2) - y
            grad_w2 = x.T @ err / n + l2 * self.w2
        self.w2 -= lr * grad_w2
        self.b2 -= lr * float(err.mean())

    def params(self) -> dict[str, Any]:
        """Weights to save."""
        p: dict[str, Any] = {"w2": self.w2, "b2": np.array(self.b2)}
        if self.hidden > 0:
            p.update(w1=self.w1, b1=self.b1)
        return p


def evaluate(model: Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss, accuracy and AUC of a model on one split."""
    logits = model.logits(x)
    return {
        "loss": bce_with_logits(logits, y),
        "accuracy": float(((logits >= 0) == (y == 1)).mean()),
        "auc": roc_auc(y, logits),
    }


def progress(step: int, total: int, metrics: dict[str, float]) -> None:
    """Emit one progress line in the mllead protocol."""
    print(PROGRESS_PREFIX + json.dumps({"step": step, "total": total, "metrics": metrics}), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and write outputs; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--model", choices=["logreg", "mlp"], default="logreg")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')}", flush=True)
    out = Path(os.environ.get("MLLEAD_ARTIFACTS_DIR", "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    data_dir = Path(args.data)
    ensure_data(data_dir, args.seed)
    x_train, y_train, features = load_split(data_dir / "train.csv")
    x_val, y_val, _ = load_split(data_dir / "val.csv")
    x_test, y_test, _ = load_split(data_dir / "test.csv")

    # Normalisation is fitted on train only, then applied to val/test (no leakage).
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))

    model = Model(x_train.shape[1], args.hidden if args.model == "mlp" else 0, rng)
    history: list[dict[str, float]] = []
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(y_train))
        for start in range(0, len(order), args.batch_size):
            idx = order[start : start + args.batch_size]
            model.step(x_train[idx], y_train[idx], args.lr, args.l2)
        train_loss = bce_with_logits(model.logits(x_train), y_train)
        val = evaluate(model, x_val, y_val)
        if not np.isfinite(train_loss):
            print(f"training diverged at epoch {epoch}: loss={train_loss}", file=sys.stderr)
            return 3
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"], "val_auc": val["auc"]}
        history.append(row)
        progress(epoch, args.epochs, {"loss": round(train_loss, 5), "val_auc": round(val["auc"], 5)})

    val = evaluate(model, x_val, y_val)
    test = evaluate(model, x_test, y_test)
    majority = float(y_train.mean() >= 0.5)
    metrics = {
        "epochs": float(args.epochs),
        "train_loss": history[-1]["train_loss"] if history else float("nan"),
        "val_loss": val["loss"],
        "val_accuracy": val["accuracy"],
        "val_auc": val["auc"],
        "test_accuracy": test["accuracy"],
        "test_auc": test["auc"],
        "baseline_accuracy": float((y_val == majority).mean()),
        "baseline_auc": 0.5,
        "seed": float(args.seed),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    np.savez(out / "model.npz", mean=mean, std=std, **model.params())
    (out / "model_card.json").write_text(
        json.dumps({"model": args.model, "features": features, "lr": args.lr, "epochs": args.epochs, "seed": args.seed}, indent=2)
        + "\n"
    )
    print(json.dumps({"val_auc": val["auc"], "baseline_accuracy": metrics["baseline_accuracy"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
