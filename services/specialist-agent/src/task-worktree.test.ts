import { describe, expect, it } from "vitest";
import { parseNameStatus } from "./task-diff.js";
import { baseConfigKey, parseWorktreeList, taskBranch, validateTaskId } from "./task-worktree.js";

describe("task ids", () => {
  it("accepts ids the contracts make and refuses ones unsafe as a path or a branch", () => {
    for (const id of ["t-abc123", "tAbC123xyz789", "t_1", "9"]) expect(validateTaskId(id)).toBe(id);
    for (const bad of ["", "-t", "../x", "a/b", "a..b", "t.lock", "a b", "x".repeat(65), "t\n1"]) {
      expect(() => validateTaskId(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: "invalid_task_id" }));
    }
    expect(taskBranch("t-abc123")).toBe("mllead/t-abc123");
    expect(baseConfigKey("mllead/t-abc123")).toBe("branch.mllead/t-abc123.mlleadBase");
  });
});

describe("parseWorktreeList", () => {
  it("reads paths, branches, locks and prunable entries", () => {
    const text = [
      "worktree /srv/repo",
      "HEAD 1111",
      "branch refs/heads/main",
      "",
      "worktree /w/t1",
      "HEAD 2222",
      "branch refs/heads/mllead/t1",
      "locked initializing",
      "",
      "worktree /w/t2",
      "HEAD 3333",
      "detached",
      "prunable gitdir file points to non-existent location",
      "",
    ].join("\n");
    expect(parseWorktreeList(text)).toEqual([
      { path: "/srv/repo", branch: "refs/heads/main", prunable: false },
      { path: "/w/t1", branch: "refs/heads/mllead/t1", locked: "initializing", prunable: false },
      { path: "/w/t2", prunable: true },
    ]);
  });
});

describe("parseNameStatus", () => {
  it("reads plain entries and renames", () => {
    expect(parseNameStatus("M\0a.py\0R087\0old.py\0new.py\0A\0data dir/x\0")).toEqual([
      { status: "M", path: "a.py" },
      { status: "R", path: "new.py", oldPath: "old.py" },
      { status: "A", path: "data dir/x" },
    ]);
    expect(parseNameStatus("")).toEqual([]);
  });
});
