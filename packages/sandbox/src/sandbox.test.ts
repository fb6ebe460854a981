import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SandboxPolicyError } from "./policy.js";
import { createSandbox, type Sandbox, SandboxUnavailableError } from "./sandbox.js";

let dir: string;
let work: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-sandbox-"));
  work = join(dir, "work");
  await mkdir(work);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
const policy = () => ({ workdir: work, network: false, limits: {} });
const run = (sb: Sandbox, argv: string[], over: object = {}) =>
  sb.run({ argv, cwd: work, env, timeoutMs: 10_000, policy: policy(), ...over });

/** A stand-in bwrap that is installed but not permitted, as in a container without user namespaces. */
async function deniedBwrap(): Promise<string> {
  const p = join(dir, "bwrap");
  await writeFile(p, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n");
  await chmod(p, 0o755);
  return p;
}

describe("createSandbox: where bubblewrap cannot run", () => {
  it("falls back to the process sandbox with a warning that says to install bubblewrap when bwrap is missing", async () => {
    const sb = await createSandbox({ bwrap: join(dir, "no-bwrap") });
    expect(sb.kind).toBe("process");
    expect(sb.warning).toBe(
      `bubblewrap is not available (${join(dir, "no-bwrap")} does not exist): commands run in a process sandbox only — install the \`bubblewrap\` package`,
    );
  });

  it("tries bwrap before trusting it: installed but not permitted means the process sandbox, and the warning quotes bwrap", async () => {
    const sb = await createSandbox({ bwrap: await deniedBwrap() });
    expect(sb.kind).toBe("process");
    expect(sb.warning).toMatch(
      /^bubblewrap is not available \(.*cannot make a sandbox here: bwrap: No permissions to create new namespace\)/,
    );
    expect(sb.warning).toMatch(/commands run in a process sandbox only — bwrap needs user namespaces/);
  });

  it("reads MLLEAD_BWRAP from the environment it is given", async () => {
    const sb = await createSandbox({ env: { PATH: "/usr/bin:/bin", MLLEAD_BWRAP: await deniedBwrap() } });
    expect(sb.kind).toBe("process");
  });

  it("throws when bubblewrap is required and cannot run", async () => {
    await expect(createSandbox({ mode: "bubblewrap", bwrap: join(dir, "no-bwrap") })).rejects.toThrow(SandboxUnavailableError);
  });

  it("the process sandbox still runs commands in the workdir, scrubs secrets, refuses a cwd outside, and limits file size", async () => {
    const sb = await createSandbox({ mode: "process" });
    expect(sb.warning).toMatch(/^bubblewrap is not available \(turned off by configuration\)/);
    const r = await run(sb, ["sh", "-c", 'pwd; echo "[$SLACK_BOT_TOKEN]"'], { env: { ...env, SLACK_BOT_TOKEN: "xoxb-1" } });
    expect(r).toMatchObject({ exitCode: 0, stdout: `${work}\n[]\n` });
    await expect(run(sb, ["true"], { cwd: dir })).rejects.toThrow(SandboxPolicyError);
    if (sb.enforcement.fileSize === "rlimit") {
      const big = await run(sb, ["sh", "-c", "head -c 200000 /dev/zero > big"], {
        policy: { ...policy(), limits: { fileSizeBytes: 65536 } },
      });
      expect(big.exitCode).not.toBe(0);
      expect((await readFile(join(work, "big"))).length).toBeLessThanOrEqual(65536);
    }
  });
});

describe("createSandbox on this host", () => {
  it("uses bubblewrap when it runs here; otherwise says why", async () => {
    const sb = await createSandbox();
    if (sb.kind === "process") {
      // Not skipped silently: the fallback must explain itself.
      expect(sb.warning).toMatch(/^bubblewrap is not available \(.+\): commands run in a process sandbox only — /);
      return;
    }
    expect(sb.warning).toBeUndefined();
    const r = await run(sb, ["sh", "-c", "id -u; echo $HOME; echo hi > out.txt; ls /"]);
    expect(r.exitCode).toBe(0);
    const [uid, home, ...root] = r.stdout.trim().split("\n");
    expect(uid).toBe("65534");
    expect(home).toBe(work);
    expect(root).not.toContain("root");
    expect(root).not.toContain("home");
    expect(await readFile(join(work, "out.txt"), "utf8")).toBe("hi\n");
  });

  it("keeps runCommand's exit codes: 127 for a missing program, the command's own code otherwise", async () => {
    const sb = await createSandbox();
    expect((await run(sb, ["no-such-program-mllead"])).exitCode).toBe(127);
    expect((await run(sb, ["sh", "-c", "exit 3"])).exitCode).toBe(3);
  });

  it("on timeout gives the command SIGTERM and its grace, then kills what ignores it", async () => {
    const sb = await createSandbox();
    const polite = await run(sb, ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.05; done"], {
      timeoutMs: 700,
      killGraceMs: 3000,
    });
    expect(polite).toMatchObject({ timedOut: true, stdout: "up\nbye\n" });
    const t0 = performance.now();
    const stubborn = await run(sb, ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"], {
      timeoutMs: 500,
      killGraceMs: 300,
    });
    expect(stubborn).toMatchObject({ timedOut: true, exitCode: null, stdout: "up\n" });
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
