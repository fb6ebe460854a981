import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { Header } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafeArchiveError } from "./errors.js";
import { unpackWorktree } from "./worktree-unpack.js";

type Entry = {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link";
  body?: string;
  linkpath?: string;
  mode?: number;
};

/** A gzipped tar written entry by entry, with whatever paths and link targets an attacker chooses. */
function tarOf(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const type = e.type ?? "File";
    const h = new Header({
      path: e.path,
      type,
      size: type === "File" ? body.length : 0,
      mode: e.mode ?? (type === "Directory" ? 0o755 : 0o644),
      mtime: new Date(0),
      ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (type === "File" && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

let base: string;
let jobRoot: string;
let work: string;
let outside: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "mllead-unpack-"));
  [jobRoot, outside] = [join(base, "job"), join(base, "outside")];
  work = join(jobRoot, "work");
  await mkdir(work, { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, "secret"), "HOST SECRET");
  await writeFile(join(jobRoot, "job.log"), "runner log\n");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every path under `dir`, and for each link whether what it points to lies inside `dir`. */
async function linksOut(dir: string, top = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await linksOut(p, top)));
    if (!e.isSymbolicLink()) continue;
    const real = await realpath(p).catch(() => undefined);
    if (real !== undefined && relative(top, real).startsWith("..")) out.push(relative(top, p));
  }
  return out;
}

describe("unpacking a shipped worktree", () => {
  it("ATTACK: '../x', an absolute path, a link out then a file through it, a link chain out, a hard link: nothing lands outside", async () => {
    const archive = join(base, "evil.tar.gz");
    await writeFile(
      archive,
      tarOf([
        { path: "ok.py", body: "print('ok')\n" },
        { path: "../x", body: "escaped via ..\n" },
        { path: join(outside, "abs.txt"), body: "escaped via an absolute path\n" },
        { path: "etc", type: "SymbolicLink", linkpath: outside },
        { path: "etc/owned.txt", body: "escaped through a link\n" },
        { path: "up", type: "SymbolicLink", linkpath: "../.." },
        { path: "up/outside/owned2.txt", body: "escaped through a relative link\n" },
        { path: "l", type: "SymbolicLink", linkpath: "." },
        { path: "x", type: "SymbolicLink", linkpath: "l/.." },
        { path: "x/job.log", body: "overwritten through a chain of links\n" },
        { path: "hard", type: "Link", linkpath: join(outside, "secret") },
        { path: "hard", body: "written through a hard link\n" },
      ]),
    );
    await expect(unpackWorktree(archive, work)).rejects.toBeInstanceOf(UnsafeArchiveError);
    expect((await readdir(outside)).sort()).toEqual(["secret"]);
    expect(await readFile(join(outside, "secret"), "utf8")).toBe("HOST SECRET");
    expect(await readFile(join(jobRoot, "job.log"), "utf8")).toBe("runner log\n");
    expect((await readdir(jobRoot)).sort()).toEqual(["job.log", "work"]);
    expect((await readdir(base)).sort()).toEqual(["evil.tar.gz", "job", "outside"]);
    expect(await linksOut(work)).toEqual([]);
    expect(await readFile(join(work, "ok.py"), "utf8")).toBe("print('ok')\n");
  });

  it("says which entries it refused", async () => {
    const archive = join(base, "evil.tar.gz");
    await writeFile(
      archive,
      tarOf([
        { path: "etc", type: "SymbolicLink", linkpath: "/etc" },
        { path: "x", type: "SymbolicLink", linkpath: "a/../.." },
        { path: "dev", type: "Link", linkpath: "ok" },
      ]),
    );
    await expect(unpackWorktree(archive, work)).rejects.toThrow(
      "the shipped worktree holds entries that were not unpacked: etc (its target is absolute); x (its target has '..' after a name); dev (a Link entry)",
    );
  });

  it("unpacks what git archive packs: directories, executables, links that stay inside", async () => {
    const repo = join(base, "repo");
    await mkdir(join(repo, "pkg", "sub"), { recursive: true });
    await writeFile(join(repo, "pkg", "__init__.py"), "X = 1\n");
    await writeFile(join(repo, "pkg", "sub", "conf.yaml"), "a: 1\n");
    await writeFile(join(repo, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
    git("init", "-q");
    execFileSync("ln", ["-s", "../pkg/sub/conf.yaml", join(repo, "pkg", "sub", "..", "conf-link.yaml")]);
    git("add", "-A");
    const tree = git("write-tree").toString().trim();
    await writeFile(join(base, "w.tar.gz"), gzipSync(git("archive", "--format=tar", tree)));
    await unpackWorktree(join(base, "w.tar.gz"), work);
    expect(await readFile(join(work, "pkg", "__init__.py"), "utf8")).toBe("X = 1\n");
    expect((await stat(join(work, "run.sh"))).mode & 0o111).not.toBe(0);
    expect(await readFile(join(work, "pkg", "conf-link.yaml"), "utf8")).toBe("a: 1\n");
  });
});
