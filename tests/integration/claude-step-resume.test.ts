import { createBrain, type Transcript } from "@mllead/brain";
import { createLocalTools } from "@mllead/brain/testing";
import type { StepWork } from "@mllead/contracts";
import { testStep, testStepWork } from "@mllead/contracts/testing";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { startFakeAnthropic, toolUse, turn } from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

function work(): StepWork {
  return testStepWork(testStep("data", "data-engineer", { usesGpu: false }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a Claude step resumed after a crash does no change twice, and its time limit stops what runs", () => {
  it("an Edit that wrote the file just before the specialist died is reported as applied on resume, not applied again", async () => {
    await using api = await startFakeAnthropic((conv) =>
      conv.toolCalls.length === 0
        ? turn(toolUse("Edit", { file_path: "count.py", old_string: "n = 1", new_string: "n = 1 + 1" }))
        : turn(
            toolUse("FinishStep", {
              summary: conv.toolResults.map((r) => `${r.isError ? "error" : "ok"}: ${r.text}`).join(" | "),
              criteria: [{ id: "ac1", met: true, evidence: "edited" }],
            }),
          ),
    );
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    await tools.writeFile("count.py", "n = 1\n");
    let stored: Transcript | undefined;
    // The first run dies right after the Edit changed the file: the save that would journal its result never happens.
    let died: () => void = () => {};
    const dead = new Promise<void>((resolve) => {
      died = resolve;
    });
    const dying = {
      ...tools,
      transcript: {
        load: async () => stored,
        save: async (t: Transcript) => {
          if (Object.keys(t.toolResults).length > 0) {
            died();
            return new Promise<void>(() => {});
          }
          stored = structuredClone(t);
        },
      },
    };
    void brain.runStep(work(), dying);
    await dead;
    expect(await tools.readFile("count.py")).toBe("n = 1 + 1\n");

    const resumed = {
      ...tools,
      transcript: {
        load: async () => stored,
        save: async (t: Transcript) => {
          stored = structuredClone(t);
        },
      },
    };
    const result = await brain.runStep(work(), resumed);
    expect(await tools.readFile("count.py")).toBe("n = 1 + 1\n");
    expect(result.summary).toMatch(/^ok: Edited count\.py: 1 replacement\(s\) \(applied before the specialist restarted/);
  });

  it("the step's time limit kills a running `sleep 1000` Bash", async () => {
    await using api = await startFakeAnthropic(() => turn(toolUse("Bash", { command: "echo $$ > pid.txt; exec sleep 1000" })));
    const brain = await createBrain({
      kind: "anthropic",
      log,
      anthropic: { apiKey: api.apiKey, baseURL: api.url, stepLimits: { timeLimitMs: 3000 } },
    });
    await using tools = await createLocalTools({ taskId: "t1" });
    let pid = 0;
    try {
      await expect(brain.runStep(work(), tools)).rejects.toThrow(/past its time limit of 3 s/);
      pid = Number((await tools.readFile("pid.txt")).trim());
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(false);
    } finally {
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
