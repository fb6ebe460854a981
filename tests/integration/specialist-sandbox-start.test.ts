import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { everyResource } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { startService, stopService } from "@mllead/tools/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer } from "../helpers/nats-server.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";

const sandbox = await testSandbox();
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-specialist-start-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A private nats-server with every stream and bucket made, since a specialist waits for those other services own. */
async function natsWithStreams() {
  const nats = await startNatsServer();
  const bus = await Bus.connect({ url: nats.url, name: "specialist-start-test", log: createLogger("test", "silent") });
  await bus.setUp(everyResource());
  await bus.close();
  return nats;
}

/** The specialist-agent as an operator starts it (`services/specialist-agent/src/main.ts`), offline brain. */
function startSpecialist(natsUrl: string, env: Record<string, string>) {
  return startService("specialist-agent", {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "info",
    PORT: "0",
    NATS_URL: natsUrl,
    MLLEAD_STATE_DIR: join(tmp, "state"),
    ...env,
  });
}

describe("specialist-agent start with MLLEAD_SANDBOX=bubblewrap", () => {
  it("refuses to start where bwrap cannot make a sandbox: exits non-zero before any step, with one fatal line naming the cause and the fix", async () => {
    await using nats = await natsWithStreams();
    // /bin/false stands for a bwrap that is installed but not permitted (a container without user namespaces).
    const s = startSpecialist(nats.url, { MLLEAD_SANDBOX: "bubblewrap", MLLEAD_BWRAP: "/bin/false" });
    await expect(s.ready).rejects.toThrow(/exited with code 1 before it was ready/);
    expect(await s.exited).toBe(1);
    const fatal = s.lines.find((l) => l.includes('"level":60'));
    expect(fatal, s.lines.join("\n")).toBeDefined();
    expect(JSON.parse(fatal ?? "{}").msg).toMatch(
      /^specialist-agent could not start: bubblewrap is required \(MLLEAD_SANDBOX=bubblewrap\) but cannot run here: \/bin\/false cannot make a sandbox here: it exited with code 1 and said nothing\. To fix: bwrap needs unprivileged user namespaces .*Or set MLLEAD_SANDBOX=process to run model-driven commands without isolation\.$/,
    );
  });

  it("starts where bwrap works, and logs the variable names commands get — never a value", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await natsWithStreams();
    const s = startSpecialist(nats.url, {
      MLLEAD_SANDBOX: "bubblewrap",
      DATABASE_URL: "postgres://ml:hunter2@db:5432/ml",
      TEAM_SEED: "42",
      WANDB_API_KEY: "wandb-secret-value",
      MLLEAD_SANDBOX_ENV: "TEAM_SEED,WANDB_API_KEY",
    });
    try {
      await s.ready;
      const logs = s.lines.join("\n");
      expect(logs).toContain("commands run under bubblewrap");
      const names = JSON.parse(s.lines.find((l) => l.includes("commands get these variables")) ?? "{}").names;
      expect(names).toEqual(["HOME", "PATH", "TEAM_SEED", "WANDB_API_KEY"]);
      expect(logs).toMatch(/"names":\["WANDB_API_KEY"\].*look like credentials/);
      expect(logs).not.toContain("wandb-secret-value");
      expect(logs).not.toContain("hunter2");
    } finally {
      await stopService(s);
    }
  });
});
