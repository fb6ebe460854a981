import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reviewFiles, reviewPython } from "./review-checks.js";
import { DEFAULT_JOBS_DIR } from "./shared.js";

const job = (name: string) => readFileSync(join(DEFAULT_JOBS_DIR, name), "utf8");

const GOOD_HEADER = `"""Train a toy model."""

from __future__ import annotations

import numpy as np
`;

const LEAKY = `${GOOD_HEADER}

def prepare(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale then split."""
    rng = np.random.default_rng(0)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    order = rng.permutation(len(y))
    return x[order[:80]], x[order[80:]]
`;

const UNSEEDED = `${GOOD_HEADER}

def split(n: int) -> np.ndarray:
    """Shuffle row indices."""
    return np.random.permutation(n)
`;

const TEST_FILE = `"""Tests."""

def test_split() -> None:
    assert True
`;

describe("reviewer static checks", () => {
  it("approves the shipped scripts (minor findings at most)", () => {
    const files = [
      ["prepare_data.py", "data"],
      ["test_prepare_data.py", "data"],
      ["train.py", "train"],
      ["test_train.py", "train"],
      ["analyze.py", "analyze"],
      ["test_analyze.py", "analyze"],
    ].map(([f, owner]) => ({ file: `x/${f}`, source: job(f as string), ownerStepId: owner as string }));
    const verdict = reviewFiles(files);
    expect(verdict.findings.filter((f) => f.severity === "blocker" || f.severity === "major")).toEqual([]);
    expect(verdict.decision).toBe("approve");
    expect(verdict.checks.map((c) => c.pitfall)).toEqual([
      "data_leakage",
      "reproducibility",
      "numerical_stability",
      "memory",
      "type_hints",
      "documentation",
      "tests",
    ]);
  });

  it("requests changes for a transform fitted before the split (leakage), owned by the step", () => {
    const verdict = reviewFiles([
      { file: "training/prep.py", source: LEAKY, ownerStepId: "train" },
      { file: "training/test_prep.py", source: TEST_FILE, ownerStepId: "train" },
    ]);
    expect(verdict.decision).toBe("request_changes");
    const leak = verdict.findings.find((f) => f.category === "data_leakage");
    expect(leak).toMatchObject({ severity: "blocker", file: "training/prep.py", line: 11, ownerStepId: "train" });
    expect(verdict.checks.find((c) => c.pitfall === "data_leakage")?.status).toBe("fail");
    expect(verdict.summary).toMatch(/Changes requested.*data_leakage in training\/prep\.py/);
  });

  it("requests changes for unseeded randomness", () => {
    const verdict = reviewFiles([
      { file: "pipeline/split.py", source: UNSEEDED, ownerStepId: "data" },
      { file: "pipeline/test_split.py", source: TEST_FILE, ownerStepId: "data" },
    ]);
    expect(verdict.decision).toBe("request_changes");
    expect(verdict.findings).toContainEqual(
      expect.objectContaining({ category: "reproducibility", severity: "major", line: 10 }),
    );
    const seeded = UNSEEDED.replace(
      "    return np.random.permutation(n)",
      "    np.random.seed(42)\n    return np.random.permutation(n)",
    );
    expect(reviewPython("s.py", seeded).filter((f) => f.category === "reproducibility")).toEqual([]);
    expect(reviewPython("s.py", `${GOOD_HEADER}\nrng = np.random.default_rng()\n`)[0]?.category).toBe("reproducibility");
  });

  it("flags unstable maths, loading data inside the training loop, and missing tests", () => {
    const source = `${GOOD_HEADER}

def loss(p: np.ndarray, y: np.ndarray) -> float:
    """Cross-entropy."""
    return float(-(y * np.log(p)).mean())


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Naive sigmoid."""
    return 1 / (1 + np.exp(-z))


def train(epochs: int) -> None:
    """Train."""
    for epoch in range(epochs):
        x = np.loadtxt("data/train.csv", delimiter=",")
`;
    const verdict = reviewFiles([{ file: "train.py", source, ownerStepId: "train" }]);
    expect(verdict.decision).toBe("request_changes");
    const got = verdict.findings.map((f) => `${f.severity}:${f.category}:${f.line ?? "-"}`);
    expect(got).toEqual(
      expect.arrayContaining([
        "major:numerical_stability:10",
        "major:numerical_stability:15",
        "major:memory:21",
        "major:tests:-",
      ]),
    );
    expect(verdict.findings.find((f) => f.category === "tests")).toMatchObject({ file: "train.py", ownerStepId: "train" });
  });

  it("treats missing type hints and docstrings as minor: approve, with findings", () => {
    const source = `import numpy as np


def scale(x, factor=2):
    return x * factor
`;
    const verdict = reviewFiles([
      { file: "a/scale.py", source, ownerStepId: "data" },
      { file: "a/test_scale.py", source: TEST_FILE, ownerStepId: "data" },
    ]);
    expect(verdict.decision).toBe("approve");
    expect(verdict.findings.map((f) => f.category).sort()).toEqual(["documentation", "documentation", "type_hints"]);
    expect(verdict.findings.every((f) => f.severity === "minor" && f.ownerStepId === "data")).toBe(true);
  });
});
