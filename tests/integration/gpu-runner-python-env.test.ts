import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUCKETS } from "@mllead/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunnerHeartbeat } from "../../services/gpu-runner/src/index.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";
import { makeTeamVenv, PROBE, venvSitePackages } from "../helpers/team-venv.js";
import { connectBus, makeJob, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";

const sandbox = await testSandbox();
let tmp: string;
let venv: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-runner-pyenv-"));
  venv = await makeTeamVenv(join(tmp, "venvs", "team"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const HOST_ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/root" };

describe("gpu-runner with MLLEAD_PYTHON_ENV", () => {
  it("a job runs the team's venv: `python` imports a package the system lacks, and cannot write into the venv", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, {
      env: { MLLEAD_SANDBOX: "bubblewrap", MLLEAD_JOBS_DIR: join(tmp, "jobs-a"), MLLEAD_PYTHON_ENV: venv },
      hostEnv: HOST_ENV,
    });
    await using bus = await connectBus(nats.url);
    const planted = join(await venvSitePackages(venv), "sitecustomize.py");
    const script = `
import os, sys, ${PROBE.module}, numpy
print("probe", ${PROBE.module}.VERSION, "prefix", sys.prefix, "venv", os.environ.get("VIRTUAL_ENV"))
try:
    open(${JSON.stringify(planted)}, "w").write("print('owned')")
    print("venv-write: allowed")
except OSError as e:
    print("venv-write: blocked", e.strerror)
`;
    const job = makeJob({ command: ["python", "job.py"], files: [{ path: "job.py", content: script }], gpus: 0 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const r = (await watch.finished()).result;
    expect(r.outcome, r.logTail.join("\n")).toBe("succeeded");
    expect(r.logTail).toEqual([
      `probe ${PROBE.version} prefix ${venv} venv ${venv}`,
      "venv-write: blocked Read-only file system",
    ]);
    expect(existsSync(planted)).toBe(false);

    // The heartbeat says what jobs run as Python here, for the planner and the prompts.
    const hb = await (await bus.kv(BUCKETS.runners, RunnerHeartbeat)).get("runner-1");
    expect(hb?.value.python).toMatchObject({ kind: "venv", interpreter: join(venv, "bin", "python") });
    expect(hb?.value.python?.packages).toContainEqual({ name: PROBE.module, version: PROBE.version });
  });

  it("refuses to start with an environment that is not one, naming the variable", async () => {
    await using nats = await startNatsServer();
    const bad = join(tmp, "not-a-venv");
    await expect(
      startTestRunner(nats.url, { env: { MLLEAD_JOBS_DIR: join(tmp, "jobs-b"), MLLEAD_PYTHON_ENV: bad }, hostEnv: HOST_ENV }),
    ).rejects.toThrow(`MLLEAD_PYTHON_ENV='${bad}' does not exist`);
  });

  it("refuses an environment inside its jobs directory, where jobs write", async () => {
    await using nats = await startNatsServer();
    const jobs = join(tmp, "jobs-c");
    const inside = await makeTeamVenv(join(jobs, "venv"));
    await expect(
      startTestRunner(nats.url, { env: { MLLEAD_JOBS_DIR: jobs, MLLEAD_PYTHON_ENV: inside }, hostEnv: HOST_ENV }),
    ).rejects.toThrow(/^MLLEAD_PYTHON_ENV='.*' the environment .* overlaps .*jobs-c, where steps or jobs write/);
  });
});
