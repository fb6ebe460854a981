import { type ScoutReport, scoutTokens } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { fitToBudget } from "./scout.js";
import { buildTree, parseLsTree, treeEntries } from "./scout-repo.js";

const files = [
  ...Array.from({ length: 50 }, (_, i) => ({ path: `pkg/mod${i}.py`, bytes: 100 })),
  ...Array.from({ length: 5 }, (_, i) => ({ path: `a/b/c/d/deep${i}.py`, bytes: 10 })),
  { path: "README.md", bytes: 2000 },
  { path: "node_modules/x/index.js", bytes: 5 },
  { path: "lib/.venv/bin/python", bytes: 5 },
];

describe("scout: the tree and the budget", () => {
  it("opens folders breadth first to three levels while they fit, summarising the rest, tool folders left out", () => {
    const root = buildTree(files);
    expect(root.files).toBe(56);
    const wide = treeEntries(root, 200);
    expect(wide.truncated).toBe(false);
    expect(wide.entries.map((e) => e.path)).toContain("pkg/mod7.py");
    expect(wide.entries.find((e) => e.path === "a/b/c")).toEqual({ path: "a/b/c", kind: "dir", bytes: 50, files: 5 });
    expect(wide.entries.some((e) => e.path.startsWith("a/b/c/"))).toBe(false);
    expect(wide.entries.some((e) => /node_modules|\.venv/.test(e.path))).toBe(false);
    const narrow = treeEntries(root, 10);
    expect(narrow.truncated).toBe(true);
    expect(narrow.entries.find((e) => e.path === "pkg")).toEqual({ path: "pkg", kind: "dir", bytes: 5000, files: 50 });
    expect(narrow.entries.map((e) => e.path)).toEqual(["README.md", "a", "a/b", "a/b/c", "pkg"]);
  });

  it("reads git ls-tree's records: blobs with sizes; submodules and odd names kept apart", () => {
    const out = [
      "100644 blob abc 12\tREADME.md",
      "160000 commit def -\tvendor/sub",
      "120000 blob 123 7\tlink",
      "100755 blob 456 3\tbin/a b\tc",
    ].join("\0");
    expect(parseLsTree(out)).toEqual([
      { path: "README.md", bytes: 12, sha: "abc", regular: true },
      { path: "link", bytes: 7, sha: "123", regular: false },
      { path: "bin/a b\tc", bytes: 3, sha: "456", regular: true },
    ]);
  });

  it("cuts any report to its budget, and says so", () => {
    const huge: ScoutReport = {
      repo: { label: "/repo", ref: "HEAD", commit: "c".repeat(40) },
      tree: { entries: treeEntries(buildTree(files), 200).entries, totalFiles: 56, truncated: false },
      docs: [{ path: "README.md", head: "word ".repeat(4000), truncated: false }],
      commits: Array.from({ length: 20 }, (_, i) => ({ sha: `${i}`.repeat(10), date: "2026-12-01", subject: "s".repeat(300) })),
      dataDirs: [
        {
          path: "/data",
          files: Array.from({ length: 200 }, (_, i) => ({ path: `t${i}.csv`, bytes: 9, head: ["a,b", "1,2", "3,4"] })),
          truncated: false,
          missing: false,
        },
      ],
      python: { packages: Array.from({ length: 80 }, (_, i) => ({ name: `p${i}`, version: "1.0" })) },
      runners: Array.from({ length: 50 }, (_, i) => ({ host: `h${i}`, cpuSlots: 1, gpus: [{ name: "GPU", memoryMiB: 1024 }] })),
      notes: Array.from({ length: 20 }, () => "n".repeat(500)),
    };
    for (const budget of [8000, 2000, 500]) {
      const fitted = fitToBudget(huge, null, budget);
      expect(scoutTokens(fitted)).toBeLessThanOrEqual(budget);
      expect(fitted.notes.at(-1)).toBe(`cut to fit the planner's budget of about ${budget} tokens`);
    }
  });
});
