import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBrain } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource, lastEvent, ROLES, StepWork, SUBJECTS, type TaskEvent } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { startService, stopService } from "@mllead/tools/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { DEFAULT_SANDBOX, defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { type Conversation, startFakeAnthropic, toolUse, turn } from "../helpers/fake-anthropic.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";
import { stepWork } from "../helpers/specialist-test-brain.js";
import { makeTeamVenv, PROBE, venvSitePackages } from "../helpers/team-venv.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent");
const sandbox = await testSandbox();
let tmp: string;
let venv: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-specialist-pyenv-"));
  venv = await makeTeamVenv(join(tmp, "venvs", "team"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const bashCalls = (conv: Conversation) => conv.toolCalls.filter((c) => c.name === "Bash").length;

/** A private nats-server with every stream and bucket made, as the other services would have. */
async function provisionedNats() {
  const nats = await startNatsServer();
  const bus = await Bus.connect({ url: nats.url, name: "specialist-pyenv-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  return Object.assign(nats, { bus });
}

describe("the team's Python environment (MLLEAD_PYTHON_ENV) in a Claude specialist's step", () => {
  it("Bash runs the venv's python with a package the system lacks; the env is read-only; the prompt names the interpreter and the package", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    const site = await venvSitePackages(venv);
    const planted = join(site, "sitecustomize.py");
    // Each Bash result as the model read it, by call.
    const seen: string[] = [];
    await using api = await startFakeAnthropic((conv) => {
      const n = bashCalls(conv);
      if (n > 0) seen[n - 1] = conv.toolResults.map((r) => r.text).join("\n");
      if (n === 0)
        return turn(toolUse("Bash", { command: `python -c 'import ${PROBE.module}, numpy; print(${PROBE.module}.VERSION)'` }));
      // What an eager model does next: install into the team's environment, here a sitecustomize every later command would run.
      if (n === 1) return turn(toolUse("Bash", { command: `echo "print('owned')" > ${planted}; echo rc=$?` }));
      return turn(
        toolUse("FinishStep", {
          summary: "Ran python in the team's environment.",
          criteria: [{ id: "ac1", met: true, evidence: "ran" }],
        }),
      );
    });
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using nats = await provisionedNats();
    const workspaceDir = join(tmp, "workspaces-1");
    const app = buildApp({
      bus: nats.bus,
      brain,
      log,
      checkWork: acceptAnyWork,
      settings: {
        roles: ["data-engineer"],
        workspaceDir,
        stateDir: join(workspaceDir, ".state"),
        concurrency: 1,
        tools: defaultToolSettings({ PATH: "/usr/local/bin:/usr/bin:/bin", HOME: process.env.HOME }),
        sandbox: { ...DEFAULT_SANDBOX, mode: "bubblewrap", limits: { ...DEFAULT_SANDBOX.limits }, pythonEnv: venv },
      },
    });
    const running = await app.start();
    try {
      await nats.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, stepWork("tpy", "data", "data-engineer"), "tpy-1");
      let done: TaskEvent | null = null;
      await waitFor(async () => {
        done = await lastEvent(nats.bus, SUBJECTS.event({ type: "step.completed", taskId: "tpy", stepId: "data" }));
        done ??= await lastEvent(nats.bus, SUBJECTS.event({ type: "step.failed", taskId: "tpy", stepId: "data" }));
        return done !== null;
      }, 30_000);
      const result = done as unknown as TaskEvent;
      expect(result.type, JSON.stringify(result)).toBe("step.completed");
      const [imported, wrote] = seen;
      expect(imported?.trim()).toMatch(new RegExp(`^${PROBE.version.replace(/\./g, "\\.")}\\b`));
      expect(imported).not.toMatch(/Error|stderr/);
      expect(wrote).toMatch(/Read-only file system/);
      expect(wrote).toMatch(/rc=[1-9]/);
      expect(existsSync(planted)).toBe(false);

      const prompt = JSON.stringify(api.requests[0]?.body.messages[0]?.content ?? "");
      expect(prompt).toContain(`Run Python as \`python\` (${join(venv, "bin", "python")}, Python 3.`);
      expect(prompt).toContain(`${PROBE.module} ${PROBE.version}`);
      expect(prompt).toMatch(/Key packages: numpy \d/);
      expect(prompt).toContain("Commands have no network: pip install, conda install and downloads");
    } finally {
      await running.stop();
      await nats.bus.close();
    }
  });
});

describe("specialist-agent start with MLLEAD_PYTHON_ENV", () => {
  const start = (natsUrl: string, env: Record<string, string>) =>
    startService("specialist-agent", {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: "info",
      PORT: "0",
      NATS_URL: natsUrl,
      MLLEAD_STATE_DIR: join(tmp, "state"),
      ...env,
    });

  it("refuses to start with an environment that is not one, naming the variable", async () => {
    await using nats = await provisionedNats();
    await nats.bus.close();
    const s = start(nats.url, { MLLEAD_PYTHON_ENV: join(tmp, "no-such-venv") });
    await expect(s.ready).rejects.toThrow(/exited with code 1 before it was ready/);
    const fatal = s.lines.find((l) => l.includes('"level":60'));
    expect(JSON.parse(fatal ?? "{}").msg, s.lines.join("\n")).toBe(
      `specialist-agent could not start: MLLEAD_PYTHON_ENV='${join(tmp, "no-such-venv")}' does not exist`,
    );
  });

  it("refuses an environment inside its own state directory, where steps or jobs write", async () => {
    await using nats = await provisionedNats();
    await nats.bus.close();
    const inside = await makeTeamVenv(join(tmp, "state", "workspaces", "t1", ".venv"));
    const s = start(nats.url, { MLLEAD_PYTHON_ENV: inside });
    await expect(s.ready).rejects.toThrow(/exited with code 1 before it was ready/);
    expect(s.lines.join("\n")).toMatch(
      /could not start: MLLEAD_PYTHON_ENV='[^']*' the environment .* overlaps .*, where steps or jobs write/,
    );
  });

  it("starts with a good one and logs it: interpreter, version and key packages", async () => {
    await using nats = await provisionedNats();
    await nats.bus.close();
    const s = start(nats.url, { MLLEAD_PYTHON_ENV: venv });
    try {
      await s.ready;
      const line = JSON.parse(s.lines.find((l) => l.includes("commands run the team's Python environment")) ?? "{}");
      expect(line).toMatchObject({ pythonEnv: venv, kind: "venv", interpreter: join(venv, "bin", "python"), mounts: [venv] });
      expect(line.version).toMatch(/^3\.\d+\.\d+ /);
    } finally {
      await stopService(s);
    }
  });
});
