import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isInside, resolveInside } from "./paths.js";
import { listFiles } from "./walk.js";

describe("isInside and resolveInside", () => {
  it("tells inside from outside by components, not by string prefix", () => {
    expect(isInside("/work/job", "/work/job")).toBe(true);
    expect(isInside("/work/job", "/work/job/out/a.txt")).toBe(true);
    expect(isInside("/work/job", "/work/job/..x")).toBe(true);
    expect(isInside("/work/job", "/work/job-2/a.txt")).toBe(false);
    expect(isInside("/work/job", "/work")).toBe(false);
    expect(isInside("/", "/anything")).toBe(true);
  });

  it("resolves a path against the root only when it stays inside", () => {
    expect(resolveInside("/work/job", "out/a.txt")).toBe("/work/job/out/a.txt");
    expect(resolveInside("/work/job", "/work/job/b")).toBe("/work/job/b");
    expect(resolveInside("/work/job", "out/../../x")).toBeUndefined();
    expect(resolveInside("/work/job", "/etc/passwd")).toBeUndefined();
    expect(resolveInside("/work/job", "a\0b")).toBeUndefined();
  });
});

describe("listFiles", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mllead-walk-"));
    await mkdir(join(dir, "b/c"), { recursive: true });
    await mkdir(join(dir, ".git"));
    await writeFile(join(dir, "a.txt"), "a");
    await writeFile(join(dir, "b/c/d.txt"), "d");
    await writeFile(join(dir, ".git/HEAD"), "ref");
    await symlink("/etc", join(dir, "etc-link"));
    await symlink("/etc/passwd", join(dir, "b/passwd-link"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("lists regular files, sorted with / separators, never following links", async () => {
    expect(await listFiles(dir)).toEqual([".git/HEAD", "a.txt", "b/c/d.txt"]);
  });

  it("skips named directories and hidden entries when asked", async () => {
    expect(await listFiles(dir, { skipDirs: new Set([".git"]) })).toEqual(["a.txt", "b/c/d.txt"]);
    expect(await listFiles(dir, { skipHidden: true })).toEqual(["a.txt", "b/c/d.txt"]);
  });

  it("lists nothing for a missing directory", async () => {
    expect(await listFiles(join(dir, "nope"))).toEqual([]);
  });
});
