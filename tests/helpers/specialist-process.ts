/**
 * A specialist-agent process with the test brain, for tests that kill it
 * mid-step: `node --import tsx specialist-process.ts <natsUrl> <workspaceDir>`.
 * Prints `ready` once it takes steps.
 */
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { ROLES } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { TestBrain } from "./specialist-test-brain.js";

const [url, workspaceDir] = process.argv.slice(2);
if (!url || !workspaceDir) throw new Error("usage: specialist-process.ts <natsUrl> <workspaceDir>");
const log = createLogger("specialist-process", "silent");
const bus = await Bus.connect({ url, name: "specialist-process", log });
const tools = defaultToolSettings({ PATH: process.env.PATH });
const app = buildApp({
  bus,
  brain: new TestBrain(),
  log,
  // No tech lead here: the steps this process takes have no task record to be checked against.
  checkWork: acceptAnyWork,
  settings: {
    roles: [...ROLES],
    workspaceDir,
    stateDir: join(workspaceDir, ".state"),
    concurrency: 1,
    tools: { ...tools, gpuWait: { ...tools.gpuWait, pollMs: 500 } },
  },
});
await app.start();
process.stdout.write("ready\n");
