import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sandboxEnv } from "./env.js";
import { TailBuffer } from "./output-tail.js";
import { runCommand } from "./run-command.js";

let dir: string;
const env = sandboxEnv({ PATH: process.env.PATH, SLACK_BOT_TOKEN: "xoxb-secret", NATS_URL: "nats://x" });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-cmd-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process is gone when /proc no longer has it or it is a zombie waiting to be reaped. */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

// A parent that starts a grandchild (`sleep 60`) in the same group, records its pid, then waits. A shell, not
// python: it is running within milliseconds even on a loaded machine, so the timeout below finds it started.
// With an argument it ignores SIGTERM from its first instruction on (its grandchild inherits that too).
const SPAWN_GRANDCHILD = [
  "sh",
  "-c",
  'if [ -n "$1" ]; then trap "" TERM; fi; sleep 60 & echo $! > child.pid; echo started; wait',
  "sh",
];

describe("runCommand", () => {
  it("runs argv without a shell in the given directory", async () => {
    const r = await runCommand(["python3", "-c", "import os; print(os.getcwd()); print('$HOME')"], {
      cwd: dir,
      env,
      timeoutMs: 30_000,
    });
    expect(r.exitCode).toBe(0);
    expect(r.timedOut).toBe(false);
    // `$HOME` stays literal: nothing interpreted the argument.
    expect(r.stdout.split("\n").slice(0, 2)).toEqual([await import("node:fs/promises").then((f) => f.realpath(dir)), "$HOME"]);
  });

  it("gives the command no secrets from the environment", async () => {
    const r = await runCommand(["python3", "-c", "import os, json; print(json.dumps(sorted(os.environ)))"], {
      cwd: dir,
      env,
      timeoutMs: 30_000,
    });
    const names = JSON.parse(r.stdout) as string[];
    expect(names).toContain("PATH");
    expect(names.some((n) => n.startsWith("SLACK_") || n.startsWith("NATS_"))).toBe(false);
  });

  it("kills the whole process group on timeout, grandchildren included", async () => {
    const r = await runCommand(SPAWN_GRANDCHILD, { cwd: dir, env, timeoutMs: 3000, killGraceMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.stdout).toContain("started");
    const grandchild = Number(await readFile(join(dir, "child.pid"), "utf8"));
    // The group's SIGKILL is sent before runCommand returns; the kernel takes a moment to end a busy machine's process.
    await vi.waitFor(async () => expect(await isAlive(grandchild)).toBe(false), { timeout: 3000, interval: 20 });
  });

  it("escalates to SIGKILL when the command ignores SIGTERM", async () => {
    const r = await runCommand([...SPAWN_GRANDCHILD, "ignore-term"], { cwd: dir, env, timeoutMs: 3000, killGraceMs: 300 });
    expect(r.timedOut).toBe(true);
    const grandchild = Number(await readFile(join(dir, "child.pid"), "utf8"));
    await vi.waitFor(async () => expect(await isAlive(grandchild)).toBe(false), { timeout: 3000, interval: 20 });
  });

  it("reaps background processes a command leaves behind when it exits", async () => {
    const r = await runCommand(
      ["python3", "-c", "import subprocess; p = subprocess.Popen(['sleep', '60']); open('child.pid','w').write(str(p.pid))"],
      { cwd: dir, env, timeoutMs: 30_000 },
    );
    expect(r.exitCode).toBe(0);
    expect(r.timedOut).toBe(false);
    const bg = Number(await readFile(join(dir, "child.pid"), "utf8"));
    // Its pipes close a moment before the kernel marks it dead.
    await vi.waitFor(async () => expect(await isAlive(bg)).toBe(false), { timeout: 2000, interval: 20 });
  });

  it("keeps only the tail of a large output and says how much it dropped", async () => {
    const r = await runCommand(
      ["python3", "-c", "import sys\nfor i in range(20000): print('line', i)\nprint('done', file=sys.stderr)"],
      { cwd: dir, env, timeoutMs: 30_000, maxOutputBytes: 1024 },
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^\[… \d+ earlier bytes dropped …\]\n/);
    expect(r.stdout.endsWith("line 19999\n")).toBe(true);
    expect(r.stdout.length).toBeLessThan(1024 + 100);
    expect(r.stderr).toBe("done\n");
  });

  it("reports a missing executable as exit code 127", async () => {
    const r = await runCommand(["no-such-binary-mllead"], { cwd: dir, env, timeoutMs: 5000 });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain("no-such-binary-mllead");
  });
});

describe("TailBuffer", () => {
  it("keeps exactly the last bytes", () => {
    const b = new TailBuffer(4);
    for (const s of ["abc", "defg", "hij"]) b.push(Buffer.from(s));
    expect(b.toString()).toBe("[… 6 earlier bytes dropped …]\nghij");
  });
});
