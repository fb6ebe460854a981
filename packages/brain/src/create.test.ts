import { validatePlan } from "@mllead/contracts";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createBrain } from "./create.js";
import { BrainUnavailableError } from "./errors.js";

const log = pino({ level: "silent" });

describe("createBrain", () => {
  it("gives the offline brain, whose plans are valid and labelled offline", async () => {
    const brain = await createBrain({ kind: "offline", log });
    expect(brain.kind).toBe("offline");
    const plan = await brain.plan({ taskId: "t1", text: "train a churn model", requester: { userId: "U1" } });
    expect(plan.brain).toBe("offline");
    expect(validatePlan(plan)).toEqual([]);
  });

  it("refuses the Claude brain without a key, with a clear, coded error", async () => {
    const err = await createBrain({ kind: "anthropic", log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrainUnavailableError);
    expect((err as BrainUnavailableError).code).toBe("brain_unavailable");
    expect((err as Error).message).toContain("ANTHROPIC_API_KEY");
  });

  it("gives the Claude brain when a key is set, with the project's agents loaded", async () => {
    const brain = await createBrain({
      kind: "anthropic",
      log,
      anthropic: { apiKey: "sk-ant-test", baseURL: "http://127.0.0.1:9" },
    });
    expect(brain.kind).toBe("anthropic");
  });

  it("names the missing job script when jobsDir is wrong", async () => {
    const brain = await createBrain({ kind: "offline", log, jobsDir: "/nonexistent/jobs" });
    const plan = await brain.plan({ taskId: "t1", text: "prepare the orders table", requester: { userId: "U1" } });
    const step = plan.steps[0];
    if (!step) throw new Error("no step");
    const tools = { writeFile: async () => {} } as never;
    await expect(
      brain.runStep(
        {
          v: 1,
          taskId: "t1",
          stepId: step.id,
          attempt: 1,
          role: step.role,
          step,
          task: {
            text: "prepare the orders table",
            requester: { userId: "U1" },
            slack: { channel: "C", threadTs: "1", messageTs: "1" },
          },
          upstream: [],
          findings: [],
          reviewScope: [],
          brain: "offline",
        },
        tools,
      ),
    ).rejects.toMatchObject({
      code: "job_script_missing",
      message: expect.stringContaining("/nonexistent/jobs/prepare_data.py"),
    });
  });
});
