import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SandboxPolicyError, SandboxUnavailableError } from "./errors.js";
import { createSandbox, type Sandbox } from "./sandbox.js";

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
      `bubblewrap is not available (${join(dir, "no-bwrap")} does not exist): commands run in a process sandbox only — install the \`bubblewrap\` package (apt-get install bubblewrap), or point MLLEAD_BWRAP at the bwrap binary`,
    );
  });

  it("tries bwrap before trusting it: installed but not permitted means the process sandbox, and the warning quotes bwrap", async () => {
    const sb = await createSandbox({ bwrap: await deniedBwrap() });
    expect(sb.kind).toBe("process");
    expect(sb.warning).toMatch(
      /^bubblewrap is not available \(.*cannot make a sandbox here: bwrap: No permissions to create new namespace\)/,
    );
    expect(sb.warning).toMatch(/commands run in a process sandbox only — bwrap needs unprivileged user namespaces \(/);
  });

  it("reads MLLEAD_BWRAP from the environment it is given", async () => {
    const sb = await createSandbox({ env: { PATH: "/usr/bin:/bin", MLLEAD_BWRAP: await deniedBwrap() } });
    expect(sb.kind).toBe("process");
  });

  it("throws when bubblewrap is required and cannot run, naming the cause and what to change", async () => {
    const missing = createSandbox({ mode: "bubblewrap", bwrap: join(dir, "no-bwrap") });
    await expect(missing).rejects.toThrow(SandboxUnavailableError);
    await expect(missing).rejects.toThrow(
      `bubblewrap is required (MLLEAD_SANDBOX=bubblewrap) but cannot run here: ${join(dir, "no-bwrap")} does not exist. ` +
        "To fix: install the `bubblewrap` package (apt-get install bubblewrap), or point MLLEAD_BWRAP at the bwrap binary. " +
        "Or set MLLEAD_SANDBOX=process to run model-driven commands without isolation.",
    );
    // A bwrap that fails without a word (here /bin/false) is described in one line, not by its whole argv.
    const silent = createSandbox({ mode: "bubblewrap", bwrap: "/bin/false" });
    await expect(silent).rejects.toThrow(
      /^bubblewrap is required \(MLLEAD_SANDBOX=bubblewrap\) but cannot run here: \/bin\/false cannot make a sandbox here: it exited with code 1 and said nothing\. To fix: bwrap needs unprivileged user namespaces \(.*seccomp=unconfined.*procMount Unmasked; see README, Security\)\. Or set MLLEAD_SANDBOX=process/,
    );
    await expect(silent).rejects.not.toThrow(/--ro-bind/);
  });

  it("the process sandbox still runs commands in the workdir with exactly their environment, refuses a cwd outside, and limits file size", async () => {
    const sb = await createSandbox({ mode: "process" });
    expect(sb.warning).toMatch(/^bubblewrap is not available \(turned off by configuration\)/);
    const r = await run(sb, ["sh", "-c", 'pwd; echo "[$SEED][$SLACK_BOT_TOKEN]"'], { env: { ...env, SEED: "7" } });
    expect(r).toMatchObject({ exitCode: 0, stdout: `${work}\n[7][]\n` });
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

/** Tests need bubblewrap unless the run says MLLEAD_SANDBOX=process; a host without it fails here, it does not skip. */
const PROCESS_ONLY = process.env.MLLEAD_SANDBOX === "process";
const MISSING = "bubblewrap is missing: install it (apt-get install bubblewrap) or run with MLLEAD_SANDBOX=process";

describe("createSandbox on this host", () => {
  it("uses bubblewrap (required unless the run says MLLEAD_SANDBOX=process)", async () => {
    const sb = await createSandbox();
    if (PROCESS_ONLY) {
      expect(sb.kind === "bubblewrap" || sb.warning?.startsWith("bubblewrap is not available (")).toBe(true);
      return;
    }
    expect(sb.kind, `${MISSING}\n${sb.warning ?? ""}`).toBe("bubblewrap");
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

describe.skipIf(PROCESS_ONLY)("bubblewrap's own environment", () => {
  it("holds nothing of the command's environment: bwrap is pid 1 inside, and /proc/1/environ shows only PATH and the job marker", async () => {
    const sb = await createSandbox();
    expect(sb.kind, MISSING).toBe("bubblewrap");
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    const probe = ["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ; echo ---; tr '\\0' '\\n' < /proc/1/cmdline | head -n 1"];
    // A command's variables, even MLLEAD_* ones, stay inside it: bwrap, running outside, gets none of them.
    const cmd = await run(sb, probe, { env: { ...env, MLLEAD_TEST_CANARY: canary, MLLEAD_JOB_ID: "j-spoofed" } });
    expect(cmd.exitCode).toBe(0);
    const [launcher, argv0] = cmd.stdout.split("---\n");
    expect(argv0).toMatch(/bwrap\n$/);
    expect(launcher).toBe("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
    // A job's bwrap carries the runner's job marker, for the orphan reaper, and nothing else of the job.
    const out: Buffer[] = [];
    const job = await sb.runProcess({
      argv: probe,
      cwd: work,
      env: { ...env, MLLEAD_TEST_CANARY: canary, MLLEAD_ARTIFACTS_DIR: "/a", MLLEAD_JOB_ID: "j1" },
      timeoutMs: 10_000,
      killGraceMs: 500,
      onStdout: (c) => out.push(c),
      onStderr: () => undefined,
      policy: policy(),
    });
    expect(job.exitCode).toBe(0);
    expect(Buffer.concat(out).toString().split("---\n")[0]).toBe("PATH=/usr/sbin:/usr/bin:/sbin:/bin\nMLLEAD_JOB_ID=j1\n");
  });

  it("keeps the command's environment off every host command line (`ps` shows no value), and the command still gets it", async () => {
    const sb = await createSandbox();
    expect(sb.kind, MISSING).toBe("bubblewrap");
    const secret = `s3cret-${Math.random().toString(36).slice(2)}`;
    const out: Buffer[] = [];
    const controller = new AbortController();
    let seenOnHost: string[] | undefined;
    const job = await sb.runProcess({
      // Prints its variable, then waits until the host has looked at every process's command line.
      argv: ["sh", "-c", 'echo "$WANDB_API_KEY"; read _ < /dev/null; sleep 30'],
      cwd: work,
      env: { ...env, WANDB_API_KEY: secret, MLLEAD_JOB_ID: "j2" },
      timeoutMs: 20_000,
      killGraceMs: 200,
      onStdout: (c) => {
        out.push(c);
        if (seenOnHost !== undefined || !Buffer.concat(out).toString().includes("\n")) return;
        seenOnHost = hostCommandLinesWith(secret);
        controller.abort();
      },
      onStderr: () => undefined,
      policy: policy(),
      signal: controller.signal,
    });
    expect(job.stopped).toBe(true);
    expect(Buffer.concat(out).toString()).toBe(`${secret}\n`);
    expect(seenOnHost).toEqual([]);
  });
});

/** The pids of host processes whose command line contains `text` (what `ps -ef` would show to any local user). */
function hostCommandLinesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ESRCH") continue;
      throw err;
    }
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}
