import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
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

/** The files of a task's directory `<dir>/<taskId>` (made here as `openTaskWorktree` would: a real path). */
async function worktreeFiles(taskId: string): Promise<Workspace> {
  await mkdir(join(dir, taskId), { recursive: true });
  return Workspace.of({ root: await realpath(join(dir, taskId)) });
}

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
    const ws = await worktreeFiles("t1");
    await ws.writeFile("data/clean.csv", "a,b\n1,2\n");
    await ws.writeFile("train.py", "print(1)\n");
    expect(await readFile(join(dir, "t1", "data", "clean.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect(await ws.readFile("data/clean.csv")).toBe("a,b\n1,2\n");
    expect(await ws.listFiles()).toEqual(["data/clean.csv", "train.py"]);
  });

  it("refuses paths that escape, with a stable error code", async () => {
    const ws = await worktreeFiles("t1");
    await expect(ws.writeFile("../t2/evil.py", "x")).rejects.toMatchObject({ code: "path_escape" });
    await expect(ws.readFile("/etc/hostname")).rejects.toMatchObject({ code: "path_escape" });
  });

  it("refuses to follow a symlink out of the workspace", async () => {
    const ws = await worktreeFiles("t1");
    await symlink("/etc", join(ws.root, "etc-link"));
    await expect(ws.readFile("etc-link/hostname")).rejects.toMatchObject({ code: "path_escape" });
    await expect(ws.writeFile("etc-link/new-file", "x")).rejects.toMatchObject({ code: "path_escape" });
  });
});

/** A directory outside the workspace, as a host path a step must never reach. */
async function outsideDir(): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), "mllead-host-"));
  outsides.push(out);
  return out;
}
const outsides: string[] = [];
afterEach(async () => {
  for (const o of outsides.splice(0)) await rm(o, { recursive: true, force: true });
});

describe("Workspace file access never follows a link out of the worktree (attacks)", () => {
  it("Write through a dangling symlink to a host path creates nothing on the host", async () => {
    const ws = await worktreeFiles("t1");
    const host = await outsideDir();
    await symlink(join(host, "secret"), join(ws.root, "notes.md"));
    await expect(ws.writeFile("notes.md", "pwned")).rejects.toMatchObject({
      code: "path_escape",
      message: "notes.md is a symbolic link to a path outside the working directory; not followed",
    });
    expect(await readdir(host)).toEqual([]);
  });

  it("a symlinked directory component, existing or dangling, is not followed for Read or Write", async () => {
    const ws = await worktreeFiles("t1");
    const host = await outsideDir();
    await writeFile(join(host, "passwd"), "root:x:0:0\n");
    await symlink(host, join(ws.root, "out"));
    await symlink(join(host, "not-yet"), join(ws.root, "gone"));
    await mkdir(join(ws.root, "sub"));
    await symlink("../../..", join(ws.root, "sub", "up"));
    await expect(ws.writeFile("out/new.txt", "x")).rejects.toMatchObject({ code: "path_escape" });
    await expect(ws.writeFile("gone/deeper/new.txt", "x")).rejects.toThrow(/gone is a symbolic link to a path outside/);
    await expect(ws.readFile("out/passwd")).rejects.toThrow(/out is a symbolic link to a path outside/);
    await expect(ws.readFile(`sub/up/${relative(dirname(dirname(ws.root)), join(host, "passwd"))}`)).rejects.toMatchObject({
      code: "path_escape",
    });
    expect((await readdir(host)).sort()).toEqual(["passwd"]);
  });

  it("Read of a symlink to a host file outside the worktree returns nothing of it", async () => {
    const ws = await worktreeFiles("t1");
    const host = await outsideDir();
    await writeFile(join(host, "passwd"), "root:x:0:0:host secret\n");
    await symlink(join(host, "passwd"), join(ws.root, "passwd"));
    await expect(ws.readFile("passwd")).rejects.toThrow(
      "passwd is a symbolic link to a path outside the working directory; not followed",
    );
  });

  it("a directory swapped for a symlink while Write and Read run never lets them reach outside", {
    timeout: 60_000,
  }, async () => {
    const ws = await worktreeFiles("t1");
    const host = await outsideDir();
    await writeFile(join(host, "secret.txt"), "OUTSIDE-SECRET");
    await mkdir(join(ws.root, "d"));
    await writeFile(join(ws.root, "d", "secret.txt"), "inside");
    await symlink(host, join(ws.root, "d.swap"));
    // Another process exchanges `d` (a directory) and `d.swap` (a link to the host dir) atomically, as fast as it can.
    const swapper = spawn("python3", ["-c", SWAPPER, ws.root], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        swapper.stdout.once("data", () => resolve());
        swapper.once("exit", (code) => reject(new Error(`the swapper exited (${code})`)));
      });
      const seen: string[] = [];
      for (let round = 0; round < 30; round++) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            await ws.writeFile(`d/f-${round}-${i}.txt`, "x").catch((err: Error) => seen.push(`refused: ${err.message}`));
            seen.push(await ws.readFile("d/secret.txt").catch((err: Error) => `refused: ${err.message}`));
          }),
        );
      }
      expect(seen).not.toContain("OUTSIDE-SECRET");
      expect((await readdir(host)).sort()).toEqual(["secret.txt"]);
    } finally {
      swapper.kill("SIGKILL");
    }
  });
});

describe("Workspace artifacts and data dirs", () => {
  it("artifact upload and download go through the same confinement", async () => {
    const ws = await worktreeFiles("t1");
    const host = await outsideDir();
    await writeFile(join(host, "secret"), "HOST SECRET");
    await symlink(join(host, "secret"), join(ws.root, "report.md"));
    await symlink(join(host, "dropped"), join(ws.root, "model.bin"));
    await expect(ws.openFile("report.md")).rejects.toMatchObject({ code: "path_escape" });
    await expect(ws.replaceFile("model.bin", (h) => h.writeFile("weights"))).rejects.toMatchObject({ code: "path_escape" });
    expect((await readdir(host)).sort()).toEqual(["secret"]);
    await ws.replaceFile("runs/j1/model.bin", (h) => h.writeFile("weights"));
    const opened = await ws.openFile("runs/j1/model.bin");
    try {
      expect({ path: opened.path, size: opened.size }).toEqual({ path: "runs/j1/model.bin", size: 7 });
    } finally {
      await opened.handle.close();
    }
  });

  it("a view with the team's data dirs reads them by absolute path and never writes them", async () => {
    const data = await outsideDir();
    await writeFile(join(data, "churn.csv"), "id\n1\n");
    const ws = (await worktreeFiles("t1")).withDataDirs([data]);
    expect(await ws.readFile(join(data, "churn.csv"))).toBe("id\n1\n");
    expect(await ws.findFiles(data)).toEqual({ files: [join(data, "churn.csv")], truncated: false });
    await expect(ws.writeFile(join(data, "churn.csv"), "x")).rejects.toMatchObject({ code: "read_only" });
    await expect((await worktreeFiles("t1")).readFile(join(data, "churn.csv"))).rejects.toBeInstanceOf(PathEscapeError);
    expect(await readFile(join(data, "churn.csv"), "utf8")).toBe("id\n1\n");
  });
});

/** Exchanges `d` and `d.swap` in the given directory with renameat2(RENAME_EXCHANGE) until killed. */
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.chdir(sys.argv[1])
print("ready", flush=True)
while True:
    if libc.renameat2(-100, b"d", -100, b"d.swap", 2) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
`;
