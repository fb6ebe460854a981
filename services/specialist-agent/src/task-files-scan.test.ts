import { execFileSync } from "node:child_process";
import { link, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfinedFs, ConfinedFsError } from "@mllead/sandbox";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TaskFilesError } from "./errors.js";
import { openScanned, scanFiles, taskFilePathProblem } from "./task-files-scan.js";

let root: string;
let outside: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "mllead-scan-"));
  outside = await mkdtemp(join(tmpdir(), "mllead-scan-out-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe("scanning a step's uncommitted files", () => {
  it("finds regular files only, names links, FIFOs and hard-linked files, and passes over git's and caches' dirs", async () => {
    await mkdir(join(root, "data", "deep"), { recursive: true });
    await writeFile(join(root, "data", "train.csv"), "a,b\n");
    await writeFile(join(root, "data", "deep", "x.bin"), "x");
    await symlink("/etc/passwd", join(root, "data", "evil"));
    execFileSync("mkfifo", [join(root, "data", "pipe")]);
    await writeFile(join(outside, "secret"), "s");
    await link(join(outside, "secret"), join(root, "data", "hard"));
    await mkdir(join(root, "data", "__pycache__"));
    await writeFile(join(root, "data", "__pycache__", "m.pyc"), "c");
    await mkdir(join(root, "data", "repo", ".git"), { recursive: true });
    await writeFile(join(root, "data", "repo", ".git", "config"), "[core]");
    // A directory under a link is never entered, whatever git listed.
    await mkdir(join(outside, "dir"));
    await writeFile(join(outside, "dir", "f"), "f");
    await symlink(join(outside, "dir"), join(root, "linked"));

    const scan = await scanFiles(root, ["data/", "linked/f", "missing.csv"]);
    expect([...scan.files.keys()]).toEqual(["data/deep/x.bin", "data/train.csv"]);
    expect(scan.skipped).toEqual([
      { path: "data/evil", why: "a symbolic link" },
      { path: "data/hard", why: "a file with other hard links" },
      { path: "data/pipe", why: "not a regular file" },
    ]);
  });

  it("refuses paths that are not plain, relative and outside git's dirs", () => {
    for (const bad of ["", "/etc/passwd", "a/../b", "./a", "a//b", ".git/config", "x/.git/HEAD", "a\u0000b", "n\uFFFD"])
      expect(taskFilePathProblem(bad), bad).toBeDefined();
    expect(taskFilePathProblem("x".repeat(1025))).toBeDefined();
    expect(taskFilePathProblem("data/train.parquet")).toBeUndefined();
  });

  it("opens only the very file it scanned: one swapped for another, or for a link, since is refused", async () => {
    await mkdir(join(root, "data"));
    await writeFile(join(root, "data", "a.csv"), "a");
    const scan = await scanFiles(root, ["data/"]);
    const st = scan.files.get("data/a.csv");
    if (!st) throw new Error("not scanned");
    const fs = new ConfinedFs(root);
    const fh = await openScanned(fs, "data/a.csv", st);
    expect((await fh.readFile()).toString()).toBe("a");
    await fh.close();

    await writeFile(join(root, "data", "b.csv"), "b");
    await rename(join(root, "data", "b.csv"), join(root, "data", "a.csv"));
    await expect(openScanned(fs, "data/a.csv", st)).rejects.toBeInstanceOf(TaskFilesError);
    await rm(join(root, "data", "a.csv"));
    await symlink(join(outside, "secret"), join(root, "data", "a.csv"));
    // A link out of the worktree is never followed (and one inside would not be the scanned inode).
    await expect(openScanned(fs, "data/a.csv", st)).rejects.toBeInstanceOf(ConfinedFsError);
    await rm(join(root, "data", "a.csv"));
    await writeFile(join(root, "data", "c.csv"), "c");
    await symlink("c.csv", join(root, "data", "a.csv"));
    await expect(openScanned(fs, "data/a.csv", st)).rejects.toBeInstanceOf(TaskFilesError);
  });
});
