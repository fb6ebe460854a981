import { execFileSync } from "node:child_process";
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfinedFs } from "./confined-fs.js";

let base: string;
let root: string;
let data: string;
let host: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "mllead-confined-"));
  [root, data, host] = [join(base, "root"), join(base, "data"), join(base, "host")];
  await Promise.all([root, data, host].map((d) => mkdir(d)));
  await writeFile(join(host, "secret"), "HOST SECRET");
  await writeFile(join(data, "table.csv"), "a,b\n1,2\n");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const text = async (fs: ConfinedFs, path: string) => (await fs.readFile(path, 1024 * 1024)).toString("utf8");

describe("ConfinedFs", () => {
  it("reads and writes under the root, creating directories, and refuses paths that leave it", async () => {
    const fs = new ConfinedFs(root);
    await fs.writeFile("a/b/c.txt", "hello");
    expect(await readFile(join(root, "a/b/c.txt"), "utf8")).toBe("hello");
    expect(await text(fs, "./a/b/../b/c.txt")).toBe("hello");
    expect(await text(fs, join(root, "a/b/c.txt"))).toBe("hello");
    for (const bad of ["../host/secret", join(host, "secret"), "a/../../host/secret", "x\0y"]) {
      await expect(fs.readFile(bad, 100), bad).rejects.toMatchObject({ code: "path_escape" });
      await expect(fs.writeFile(bad, "x"), bad).rejects.toMatchObject({ code: "path_escape" });
    }
    await expect(fs.readFile("missing.txt", 100)).rejects.toMatchObject({
      code: "not_found",
      message: "missing.txt does not exist",
    });
    await expect(fs.readFile("a", 100)).rejects.toMatchObject({ code: "is_a_directory" });
    await expect(fs.writeFile("a", "x")).rejects.toMatchObject({ code: "is_a_directory" });
    await expect(fs.readFile("a/b/c.txt", 3)).rejects.toMatchObject({ code: "too_large" });
    await expect(fs.writeFile("a/b/c.txt/d", "x")).rejects.toMatchObject({ code: "not_a_directory" });
  });

  it("follows links that stay inside the root, like Claude Code's tools would, dangling ones included", async () => {
    const fs = new ConfinedFs(root);
    await fs.writeFile("data/v3/rows.csv", "1\n");
    await symlink("v3", join(root, "data", "latest"));
    await symlink("data/latest/rows.csv", join(root, "rows.csv"));
    await symlink(join(root, "data"), join(root, "abs-data"));
    await symlink("notes/today.md", join(root, "today.md"));
    expect(await text(fs, "rows.csv")).toBe("1\n");
    expect(await text(fs, "abs-data/latest/rows.csv")).toBe("1\n");
    await fs.writeFile("rows.csv", "2\n");
    expect(await readFile(join(root, "data/v3/rows.csv"), "utf8")).toBe("2\n");
    // A dangling link inside the root: the write creates its target, as the kernel would.
    await fs.writeFile("today.md", "# today\n");
    expect(await readFile(join(root, "notes/today.md"), "utf8")).toBe("# today\n");
    expect((await fs.list(".", { maxFiles: 100 })).files).toEqual(["data/v3/rows.csv", "notes/today.md"]);
  });

  it("refuses links out of the root, in any component, existing or dangling, relative or absolute", async () => {
    const fs = new ConfinedFs(root);
    await symlink(join(host, "secret"), join(root, "abs.txt"));
    await symlink("../host/secret", join(root, "rel.txt"));
    await symlink(join(host, "new"), join(root, "dangling.txt"));
    await symlink(host, join(root, "dir"));
    await mkdir(join(root, "in"));
    await symlink("../../host", join(root, "in", "up"));
    await symlink("abs.txt", join(root, "chain.txt"));
    for (const [path, shown] of [
      ["abs.txt", "abs.txt"],
      ["rel.txt", "rel.txt"],
      ["dir/secret", "dir"],
      ["in/up/secret", "in/up"],
      ["chain.txt", "abs.txt"],
    ]) {
      await expect(text(fs, path as string), path).rejects.toThrow(
        `${shown} is a symbolic link to a path outside the working directory; not followed`,
      );
    }
    for (const path of ["dangling.txt", "dir/new", "in/up/new/deeper.txt", "abs.txt", "chain.txt"]) {
      await expect(fs.writeFile(path, "x"), path).rejects.toMatchObject({ code: "path_escape" });
    }
    expect((await readdir(host)).sort()).toEqual(["secret"]);
    expect(await readFile(join(host, "secret"), "utf8")).toBe("HOST SECRET");
  });

  it("reads a read-only dir by absolute path, lists it, never writes it, also through a link", async () => {
    const fs = new ConfinedFs(root, { readOnlyDirs: [data, join(base, "missing")] });
    expect(await text(fs, join(data, "table.csv"))).toBe("a,b\n1,2\n");
    expect(await fs.list(data, { maxFiles: 10 })).toEqual({ files: [join(data, "table.csv")], truncated: false });
    await expect(fs.writeFile(join(data, "table.csv"), "x")).rejects.toMatchObject({ code: "read_only" });
    await symlink(data, join(root, "data"));
    expect(await text(fs, "data/table.csv")).toBe("a,b\n1,2\n");
    await expect(fs.writeFile("data/new.csv", "x")).rejects.toThrow(
      "data is a symbolic link into a read-only data directory; not written",
    );
    await symlink("../host", join(data, "up"));
    await expect(text(fs, join(data, "up", "secret"))).rejects.toMatchObject({ code: "path_escape" });
    expect(await readdir(data)).toEqual(["table.csv", "up"]);
  });

  it("replaces files whole through a temporary file: a hard link to the old file is not written through, the mode is kept", async () => {
    const fs = new ConfinedFs(root);
    await writeFile(join(root, "run.sh"), "echo 1\n");
    await chmod(join(root, "run.sh"), 0o750);
    await link(join(root, "run.sh"), join(host, "hard"));
    await fs.writeFile("run.sh", "echo 2\n");
    expect(await readFile(join(root, "run.sh"), "utf8")).toBe("echo 2\n");
    expect((await stat(join(root, "run.sh"))).mode & 0o777).toBe(0o750);
    expect(await readFile(join(host, "hard"), "utf8")).toBe("echo 1\n");
    await expect(fs.replaceFile("run.sh", async () => Promise.reject(new Error("upload failed")))).rejects.toThrow(
      "upload failed",
    );
    expect(await readdir(root)).toEqual(["run.sh"]);
  });

  it("refuses a FIFO without waiting on it, and a loop of links", async () => {
    const fs = new ConfinedFs(root);
    execFileSync("mkfifo", [join(root, "pipe")]);
    await expect(fs.readFile("pipe", 100)).rejects.toMatchObject({ code: "not_a_file" });
    await expect(fs.writeFile("pipe", "x")).rejects.toMatchObject({ code: "not_a_file" });
    await symlink("b", join(root, "a"));
    await symlink("a", join(root, "b"));
    await expect(fs.readFile("a", 100)).rejects.toMatchObject({ code: "link_loop" });
  });

  it("lists in name order, skipping links, named directories and what is past the limits, and says when it stopped", async () => {
    const fs = new ConfinedFs(root);
    for (const f of ["b.py", "a/x.py", "a/y.py", ".git/config", "node_modules/m/i.js", "deep/1/2/3/f.txt"]) {
      await fs.writeFile(f, "x");
    }
    await symlink(host, join(root, "host"));
    await symlink("b.py", join(root, "c.py"));
    const skipDirs = new Set([".git", "node_modules"]);
    expect(await fs.list(".", { maxFiles: 100, skipDirs })).toEqual({
      files: ["a/x.py", "a/y.py", "b.py", "deep/1/2/3/f.txt"],
      truncated: false,
    });
    expect(await fs.list(".", { maxFiles: 2, skipDirs })).toEqual({ files: ["a/x.py", "a/y.py"], truncated: true });
    expect(await fs.list("deep", { maxFiles: 100, maxDepth: 2 })).toEqual({ files: [], truncated: true });
    expect(await fs.list("a/x.py", { maxFiles: 100 })).toEqual({ files: ["a/x.py"], truncated: false });
    await expect(fs.list("host", { maxFiles: 100 })).rejects.toMatchObject({ code: "path_escape" });
  });

  it("leaves out, without entering, the files and directories `skip` names, and counts them", async () => {
    const fs = new ConfinedFs(root);
    for (const f of ["src/a.py", "outputs/run1/big.bin", "debug.log", "src/tmp.log"]) await fs.writeFile(f, "x");
    const seen: string[] = [];
    const skip = (shown: string) => {
      seen.push(shown);
      return shown === "outputs/" || shown.endsWith(".log");
    };
    expect(await fs.list(".", { maxFiles: 100, skip })).toEqual({ files: ["src/a.py"], truncated: false, skipped: 3 });
    expect(seen).not.toContain("outputs/run1/");
    expect(await fs.list("debug.log", { maxFiles: 100, skip })).toEqual({ files: [], truncated: false, skipped: 1 });
  });

  it("reads a range of a file of any size, also in a read-only dir, never through a link out", async () => {
    const fs = new ConfinedFs(root, { readOnlyDirs: [data] });
    await fs.writeFile("big.txt", "0123456789".repeat(1000));
    expect(await fs.readRange("big.txt", { start: 9995, maxBytes: 100 })).toEqual({ data: Buffer.from("56789"), size: 10_000 });
    expect(await fs.readRange("big.txt", { maxBytes: 3 })).toEqual({ data: Buffer.from("012"), size: 10_000 });
    expect((await fs.readRange(join(data, "table.csv"), { maxBytes: 3 })).data.toString()).toBe("a,b");
    await symlink(join(host, "secret"), join(root, "leak"));
    await expect(fs.readRange("leak", { maxBytes: 100 })).rejects.toMatchObject({ code: "path_escape" });
  });
});
