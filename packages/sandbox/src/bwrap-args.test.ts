import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bubblewrapArgs, bubblewrapEnv, detectHostLayout, type HostLayout, hiddenArgsData, innerCommand } from "./bwrap-args.js";
import { resolvePolicy } from "./policy.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-bwrap-args-"));
  await mkdir(join(dir, "work", "data"), { recursive: true });
  await mkdir(join(dir, "shared"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const layout: HostLayout = {
  system: [
    { path: "/usr", kind: "dir" },
    { path: "/lib", kind: "symlink", target: "usr/lib" },
  ],
  etc: ["/etc/passwd", "/etc/ld.so.cache"],
};

/** The values that follow each occurrence of `opt` (e.g. the src/dest pairs of --bind). */
function after(args: string[], opt: string, n = 2): string[][] {
  const out: string[][] = [];
  args.forEach((a, i) => {
    if (a === opt) out.push(args.slice(i + 1, i + 1 + n));
  });
  return out;
}

describe("bubblewrapArgs", () => {
  it("binds system dirs read-only, recreates symlinked ones as symlinks, and gives a fresh /tmp, /proc and /dev", async () => {
    const p = await resolvePolicy({ workdir: join(dir, "work"), network: false, limits: {} }, join(dir, "work"));
    const args = bubblewrapArgs(layout, p);
    expect(after(args, "--ro-bind")).toContainEqual(["/usr", "/usr"]);
    expect(after(args, "--symlink")).toEqual([["usr/lib", "/lib"]]);
    expect(after(args, "--ro-bind-try")).toEqual([
      ["/etc/passwd", "/etc/passwd"],
      ["/etc/ld.so.cache", "/etc/ld.so.cache"],
    ]);
    for (const [opt, dest] of [
      ["--proc", "/proc"],
      ["--dev", "/dev"],
      ["--tmpfs", "/tmp"],
    ]) {
      expect(after(args, opt as string, 1)).toEqual([[dest]]);
    }
    // The fresh /tmp comes before the binds, so a workdir under /tmp is not hidden by it.
    expect(args.indexOf("--tmpfs")).toBeLessThan(args.indexOf("--bind"));
  });

  it("shuts the network off unless asked, and only then hands in resolv.conf", async () => {
    const off = bubblewrapArgs(layout, await resolvePolicy({ workdir: dir, network: false, limits: {} }, dir));
    const on = bubblewrapArgs(layout, await resolvePolicy({ workdir: dir, network: true, limits: {} }, dir));
    expect(off).toContain("--unshare-net");
    expect(off).not.toContain("/etc/resolv.conf");
    expect(on).not.toContain("--unshare-net");
    expect(on).toContain("/etc/resolv.conf");
    for (const a of [off, on]) {
      for (const opt of ["--unshare-user", "--unshare-pid", "--die-with-parent", "--new-session", "--disable-userns"])
        expect(a).toContain(opt);
      expect(after(a, "--cap-drop", 1)).toEqual([["ALL"]]);
    }
  });

  it("mounts the workdir read-write, data read-only inside it after it, and other dirs as asked", async () => {
    const p = await resolvePolicy(
      {
        workdir: join(dir, "work"),
        readOnly: [join(dir, "work", "data")],
        readWrite: [join(dir, "shared")],
        network: false,
        limits: {},
      },
      join(dir, "work"),
    );
    const args = bubblewrapArgs(layout, p);
    expect(after(args, "--bind")).toEqual([
      [join(dir, "work"), join(dir, "work")],
      [join(dir, "shared"), join(dir, "shared")],
    ]);
    expect(after(args, "--ro-bind")).toContainEqual([join(dir, "work", "data"), join(dir, "work", "data")]);
    expect(args.lastIndexOf(join(dir, "work", "data"))).toBeGreaterThan(args.indexOf(join(dir, "work")));
  });

  it("binds a symlinked path's target at the path as named", async () => {
    await symlink(join(dir, "work"), join(dir, "link"));
    const p = await resolvePolicy({ workdir: join(dir, "link"), network: false, limits: {} }, join(dir, "link"));
    expect(after(bubblewrapArgs(layout, p), "--bind")).toEqual([[join(dir, "work"), join(dir, "link")]]);
    expect(after(bubblewrapArgs(layout, p), "--chdir", 1)).toEqual([[join(dir, "link")]]);
  });

  it("sets exactly the given environment, with HOME at the workdir and TMPDIR at /tmp", async () => {
    const p = await resolvePolicy({ workdir: dir, network: false, limits: {} }, dir);
    expect(bubblewrapArgs(layout, p)).toContain("--clearenv");
    expect(bubblewrapArgs(layout, p)).not.toContain("--setenv");
    const args = bubblewrapEnv(p, { PATH: "/usr/bin", HOME: "/root", SEED: "1" });
    expect(after(args, "--setenv")).toEqual([
      ["HOME", dir],
      ["PATH", "/usr/bin"],
      ["SEED", "1"],
      ["TMPDIR", "/tmp"],
    ]);
  });

  it("hands hidden options over NUL-terminated, as bwrap's --args reads them", () => {
    expect(hiddenArgsData(["--setenv", "K", "a b"]).toString()).toBe("--setenv\0K\0a b\0");
  });

  it('runs the command through `exec "$@"`, so arguments are never parsed by a shell', () => {
    expect(innerCommand(["python3", "-c", "print('$HOME; rm -rf /')"])).toEqual([
      "/bin/sh",
      "-c",
      'exec "$@"',
      "sh",
      "python3",
      "-c",
      "print('$HOME; rm -rf /')",
    ]);
  });
});

describe("detectHostLayout", () => {
  it("finds /usr and the loader cache on this host, and symlinks where /lib is one", async () => {
    const l = await detectHostLayout();
    expect(l.system).toContainEqual({ path: "/usr", kind: "dir" });
    expect(l.etc).toContain("/etc/passwd");
    expect(l.etc.some((e) => /\/(gitconfig|shadow|netrc|pip\.conf)$/.test(e))).toBe(false);
  });
});
