import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PathEscapeError } from "./errors.js";
import { resolveInside, Workspace } from "./workspace.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-ws-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("resolveInside", () => {
  it("keeps paths inside the root and refuses ones that leave it", () => {
    expect(resolveInside("/w/t1", "data/x.csv")).toBe("/w/t1/data/x.csv");
    expect(resolveInside("/w/t1", "a/../b")).toBe("/w/t1/b");
    for (const bad of ["../t2/x", "/etc/passwd", "a/../../x", "..", "x\0y"]) {
      expect(() => resolveInside("/w/t1", bad), bad).toThrow(PathEscapeError);
    }
    expect(() => resolveInside("/w/t1", "../t1x")).toThrow(PathEscapeError);
  });
});

describe("Workspace", () => {
  it("writes, reads and lists files under <dir>/<taskId>", async () => {
    const ws = await Workspace.open(dir, "t1");
    await ws.writeFile("data/clean.csv", "a,b\n1,2\n");
    await ws.writeFile("train.py", "print(1)\n");
    expect(await readFile(join(dir, "t1", "data", "clean.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect(await ws.readFile("data/clean.csv")).toBe("a,b\n1,2\n");
    expect(await ws.listFiles()).toEqual(["data/clean.csv", "train.py"]);
  });

  it("refuses paths that escape, with a stable error code", async () => {
    const ws = await Workspace.open(dir, "t1");
    await expect(ws.writeFile("../t2/evil.py", "x")).rejects.toMatchObject({ code: "path_escape" });
    await expect(ws.readFile("/etc/hostname")).rejects.toMatchObject({ code: "path_escape" });
  });

  it("refuses to follow a symlink out of the workspace", async () => {
    const ws = await Workspace.open(dir, "t1");
    await symlink("/etc", join(ws.root, "etc-link"));
    await expect(ws.readFile("etc-link/hostname")).rejects.toBeInstanceOf(PathEscapeError);
    await expect(ws.writeFile("etc-link/new-file", "x")).rejects.toBeInstanceOf(PathEscapeError);
  });

  it("refuses a task id that is not a single directory name", async () => {
    await expect(Workspace.open(dir, "../outside")).rejects.toBeInstanceOf(PathEscapeError);
  });
});
