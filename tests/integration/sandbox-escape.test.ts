import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BaseConfig, loadConfig } from "@mllead/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, mergeEnv, type Sandbox, type SandboxPolicy } from "../../packages/sandbox/src/index.js";
import { SpecialistEnv, settingsFromEnv } from "../../services/specialist-agent/src/config.js";
import { hostPythonWithNumpy } from "../helpers/host-python.js";
import { BWRAP_MISSING, needBubblewrap, PROCESS_SANDBOX_ONLY, testSandbox } from "../helpers/sandbox-mode.js";

const REPO = resolve(import.meta.dirname, "../..");
const SECRET = `sk-ant-FAKE-${Math.random().toString(36).slice(2)}`;
const OTHER_TASK = `other-task-private-${Math.random().toString(36).slice(2)}`;
const MB = 1024 * 1024;

let sandbox: Sandbox;
let root: string;
let checkout: string;
let work: string;
let sibling: string;
let data: string;

const policy = (over: Partial<SandboxPolicy> = {}): SandboxPolicy => ({
  workdir: work,
  readOnly: [data],
  network: false,
  limits: { memoryBytes: 512 * MB, processes: 128, fileSizeBytes: 8 * MB },
  ...over,
});

function sh(script: string, over: Partial<SandboxPolicy> = {}, timeoutMs = 10_000): Promise<CommandResult> {
  return sandbox.run({
    argv: ["sh", "-c", script],
    cwd: work,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" },
    timeoutMs,
    killGraceMs: 500,
    policy: policy(over),
  });
}

const output = (r: CommandResult) => r.stdout + r.stderr;

beforeAll(async () => {
  // Bubblewrap, unless the run says MLLEAD_SANDBOX=process: a host without it fails the tests that need it, with the fix.
  sandbox = await testSandbox();
  // A fake mllead checkout with its .env, two task worktrees side by side, and a team data dir.
  root = await mkdtemp(join(tmpdir(), "mllead-escape-"));
  checkout = join(root, "checkout");
  work = join(root, "worktrees", "task-a");
  sibling = join(root, "worktrees", "task-b");
  data = join(root, "data");
  for (const d of [checkout, work, sibling, data]) await mkdir(d, { recursive: true });
  await writeFile(join(checkout, ".env"), `ANTHROPIC_API_KEY=${SECRET}\nSLACK_BOT_TOKEN=xoxb-${SECRET}\n`);
  await writeFile(join(sibling, "notes.txt"), OTHER_TASK);
  await writeFile(join(data, "train.csv"), "x,y\n1,2\n");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the sandbox this host gives", () => {
  it("is bubblewrap, unless the run says MLLEAD_SANDBOX=process", () => {
    if (PROCESS_SANDBOX_ONLY) expect(sandbox.warning).toMatch(/^bubblewrap is not available \(turned off by configuration\)/);
    else {
      expect(sandbox.kind, `${BWRAP_MISSING}\n${sandbox.warning ?? ""}`).toBe("bubblewrap");
      expect(sandbox.warning).toBeUndefined();
    }
  });
});

describe.runIf(process.platform === "linux")("escapes fail under bubblewrap; limits hold in either sandbox", () => {
  const bwrap = () => sandbox.kind === "bubblewrap";

  it("cannot read the checkout's .env, the real mllead checkout, or the host's home", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    const r = await sh(
      [
        `cat ${checkout}/.env`,
        "cat ../../checkout/.env",
        `cat ${REPO}/package.json`,
        `ls ${homedir()}`,
        "find / -path /proc -prune -o -path /usr -prune -o -path /sys -prune -o -name '.env*' -print",
        `grep -rs "${SECRET.slice(0, 12)}" /tmp /etc /var ${homedir()} /work`,
        "echo done",
      ].join("; "),
    );
    expect(r.stdout).toContain("done");
    expect(output(r)).not.toContain(SECRET);
    expect(output(r)).not.toContain('"name": "mllead"');
    expect(output(r)).toMatch(/checkout\/\.env: No such file or directory/);
  });

  it("cannot see another task's worktree next to its own", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    const r = await sh(`cat ${sibling}/notes.txt; cat ../task-b/notes.txt; ls ..; echo done`);
    expect(output(r)).not.toContain(OTHER_TASK);
    expect(r.stdout).toBe("task-a\ndone\n");
  });

  it("cannot read the environment of the processes that started it through /proc", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    const marker = `marker-${Math.random().toString(36).slice(2)}`;
    // A host process with the marker in its environment, as the runner or the service itself would have.
    const holder = spawn("sleep", ["30"], { env: { PATH: process.env.PATH ?? "", MLLEAD_ESCAPE_MARKER: marker } });
    try {
      expect(readFileSync(`/proc/${holder.pid}/environ`, "utf8")).toContain(marker);
      const mine = readFileSync(`/proc/${process.pid}/environ`, "utf8")
        .split("\0")
        .find((e) => /^(npm_|VITEST|PNPM|NODE)/.test(e));
      const r = await sh(
        `cat /proc/${holder.pid}/environ /proc/${process.pid}/environ /proc/${process.ppid}/environ; cat /proc/*/environ | tr '\\0' '\\n'; ls /proc | grep -c '^[0-9]'`,
      );
      expect(output(r)).not.toContain(marker);
      if (mine) expect(output(r)).not.toContain(mine);
      // A fresh pid namespace: only the sandbox's own few processes.
      expect(Number(r.stdout.trim().split("\n").at(-1))).toBeLessThan(10);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("gets none of the service's environment: DATABASE_URL, MLFLOW_TRACKING_URI and a canary show in neither env, /proc nor os.environ", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    const service = {
      ...process.env,
      MLLEAD_TEST_CANARY: canary,
      DATABASE_URL: `postgres://ml:${canary}@db:5432/ml`,
      MLFLOW_TRACKING_URI: `https://ml:${canary}@mlflow.example`,
      TEAM_SEED: "42",
      MLLEAD_SANDBOX_ENV: "TEAM_SEED",
    };
    // The service as a process with these in its real environment, as /proc/<pid>/environ shows it on the host.
    const holder = spawn("sleep", ["30"], { env: service });
    try {
      expect(readFileSync(`/proc/${holder.pid}/environ`, "utf8")).toContain(canary);
      // The specialist's own path: its config, then what its Bash tool hands the sandbox (tools.ts).
      const settings = settingsFromEnv(loadConfig(BaseConfig.extend(SpecialistEnv.shape), service), service);
      const r = await sandbox.run({
        argv: [
          "sh",
          "-c",
          "env; echo ---; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; echo ---; python3 -c 'import os; print(dict(os.environ))'",
        ],
        cwd: work,
        env: mergeEnv(settings.tools.baseEnv),
        timeoutMs: 10_000,
        policy: policy(),
      });
      expect(r.exitCode).toBe(0);
      expect(output(r)).not.toContain(canary);
      expect(output(r)).not.toMatch(/DATABASE_URL|MLFLOW_TRACKING_URI|MLLEAD_TEST_CANARY/);
      // What the team listed does arrive, and the python really ran.
      expect(r.stdout).toContain("TEAM_SEED=42\n");
      expect(r.stdout).toContain("'TEAM_SEED': '42'");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("cannot open a connection to a server on the host's loopback, unless the policy allows the network", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.end("hello from the host\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const connect = `import socket; s = socket.create_connection(("127.0.0.1", ${port}), timeout=3); print(s.recv(100).decode())`;
    try {
      const denied = await sandbox.run({
        argv: ["python3", "-c", connect],
        cwd: work,
        env: { PATH: "/usr/bin:/bin" },
        timeoutMs: 10_000,
        policy: policy(),
      });
      expect(denied.exitCode).not.toBe(0);
      expect(denied.stderr).toMatch(/ConnectionRefusedError|Network is unreachable|timed out/);
      expect(connections).toBe(0);
      const allowed = await sandbox.run({
        argv: ["python3", "-c", connect],
        cwd: work,
        env: { PATH: "/usr/bin:/bin" },
        timeoutMs: 10_000,
        policy: policy({ network: true }),
      });
      expect(allowed).toMatchObject({ exitCode: 0, stdout: "hello from the host\n\n" });
      expect(connections).toBe(1);
    } finally {
      server.close();
    }
  });

  it("cannot write outside its worktree: not the checkout, /usr, the host's home, another task, or a read-only data dir", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    const name = `pwned-${Math.random().toString(36).slice(2)}`;
    const targets = [join(checkout, name), join("/usr", name), join(homedir(), name), join(sibling, name), join(data, name)];
    const r = await sh(`${targets.map((t) => `echo x > ${t}`).join("; ")}; echo ok > ${join(work, name)}; echo done`);
    expect(r.stdout).toBe("done\n");
    for (const t of targets) expect(existsSync(t), t).toBe(false);
    expect(await readFile(join(work, name), "utf8")).toBe("ok\n");
    expect(await readdir(data)).toEqual(["train.csv"]);
  });

  it("contains a fork bomb (in the process sandbox too): the command ends, nothing of it is left, the host still starts processes", async ({
    skip,
  }) => {
    // Limits hold in the process sandbox too; only with neither a pid namespace nor a process limit would a bomb reach the host.
    if (!bwrap() && sandbox.enforcement.processes === "none") skip("no pid namespace and no process limit here");
    const token = `bomb-${Math.random().toString(36).slice(2)}`;
    const t0 = performance.now();
    // Without a cgroup (enforcement "none") only the timeout and the pid namespace stop it: keep that case short.
    const r = await sandbox.run({
      argv: ["bash", "-c", `: ${token}; bomb() { bomb | bomb & }; bomb; sleep 2; echo still-here`],
      cwd: work,
      env: { PATH: "/usr/bin:/bin" },
      timeoutMs: sandbox.enforcement.processes === "none" ? 1500 : 4000,
      killGraceMs: 200,
      policy: policy({ limits: { processes: 64 } }),
    });
    expect(performance.now() - t0).toBeLessThan(8000);
    if (sandbox.enforcement.processes !== "none") expect(r.stderr).toMatch(/fork: (retry: )?Resource temporarily unavailable/);
    const left = (await readdir("/proc")).filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(token);
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
    expect(execFileSync("echo", ["host is fine"], { encoding: "utf8" })).toBe("host is fine\n");
  });

  it("stops a memory hog past memoryBytes (in the process sandbox too)", async ({ skip }) => {
    if (sandbox.enforcement.memory === "none") skip("no memory limit on this host (no cgroup, no prlimit)");
    const r = await sandbox.run({
      argv: ["python3", "-c", "b = b'x' * (400 * 1024 * 1024); print('allocated', len(b))"],
      cwd: work,
      env: { PATH: "/usr/bin:/bin" },
      timeoutMs: 15_000,
      policy: policy({ limits: { memoryBytes: 128 * MB } }),
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain("allocated");
    // A cgroup kills the process (137); an address-space rlimit makes the allocation fail.
    if (sandbox.enforcement.memory === "rlimit") expect(r.stderr).toContain("MemoryError");
  });

  it("cannot write a file bigger than fileSizeBytes (in the process sandbox too)", async ({ skip }) => {
    if (sandbox.enforcement.fileSize === "none") skip("no prlimit on this host");
    const r = await sandbox.run({
      argv: ["python3", "-c", "open('big.bin', 'wb').write(b'\\0' * (4 * 1024 * 1024)); print('wrote')"],
      cwd: work,
      env: { PATH: "/usr/bin:/bin" },
      timeoutMs: 10_000,
      policy: policy({ limits: { fileSizeBytes: 1 * MB } }),
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("File too large");
    expect((await stat(join(work, "big.bin"))).size).toBeLessThanOrEqual(1 * MB);
  });
});

describe.runIf(process.platform === "linux")("what still works inside (either sandbox)", () => {
  it("python3 with numpy runs and writes its results into the worktree", async () => {
    const py = hostPythonWithNumpy();
    const r = await sandbox.run({
      argv: ["python3", "-c", "import numpy as np; np.save('a.npy', np.arange(6).reshape(2, 3)); print(np.load('a.npy').sum())"],
      cwd: work,
      env: { PATH: py.path },
      timeoutMs: 20_000,
      policy: policy({ readOnly: [data, ...py.dirs] }),
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "15\n" });
    expect((await stat(join(work, "a.npy"))).size).toBeGreaterThan(0);
  });

  it("reads a read-only data dir but cannot change it", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    const r = await sh(`cat ${data}/train.csv; rm ${data}/train.csv; echo z >> ${data}/train.csv; echo done`);
    expect(r.stdout).toBe("x,y\n1,2\ndone\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(await readFile(join(data, "train.csv"), "utf8")).toBe("x,y\n1,2\n");
  });

  it("git works in the worktree", async () => {
    const r = await sh(
      "git init -q repo && cd repo && echo hi > a.txt && git add a.txt && git -c user.name=t -c user.email=t@x commit -qm first && git status --short --branch && git log --format=%s",
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^## \w+\nfirst\n$/);
    expect(existsSync(join(work, "repo", ".git", "HEAD"))).toBe(true);
  });
});
