import { numberedCriteria, REVIEW_PITFALLS, type StepWork } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { createLocalTools } from "../testing/local-tools.js";
import { createToolbox, toolsFor } from "./toolbox.js";

function work(role: StepWork["role"] = "data-engineer", usesGpu = false): StepWork {
  return {
    v: 1,
    taskId: "t1",
    stepId: "data",
    attempt: 1,
    role,
    step: {
      id: "data",
      role,
      title: "Prepare the data",
      objective: "o",
      context: "",
      requirements: ["r"],
      acceptanceCriteria: numberedCriteria("the script runs", "the split is saved"),
      params: {},
      nextHandoff: { to: "tech-lead", reason: "done" },
      dependsOn: [],
      changesCode: true,
      usesGpu,
    },
    task: { text: "t", requester: { userId: "U1" }, slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" } },
    upstream: [],
    findings: [],
    reviewScope: [],
    brain: "anthropic",
  };
}

describe("the tools an agent file's `tools:` line selects", () => {
  it("follows Claude Code: no line means every tool; FinishStep always; SubmitGpuJob for GPU steps with Bash", () => {
    expect(toolsFor([], { usesGpu: false })).toEqual([
      "Read",
      "Write",
      "Edit",
      "Glob",
      "Grep",
      "Bash",
      "SubmitGpuJob",
      "FinishStep",
    ]);
    expect(toolsFor(["Read", "Glob", "Grep", "Bash"], { usesGpu: false })).toEqual([
      "Read",
      "Glob",
      "Grep",
      "Bash",
      "FinishStep",
    ]);
    expect(toolsFor(["Read", "Write", "Bash"], { usesGpu: true })).toContain("SubmitGpuJob");
    expect(toolsFor(["Read", "Write"], { usesGpu: true })).not.toContain("SubmitGpuJob");
  });

  it("refuses a tool the role does not have (the code reviewer cannot Write)", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work("code-reviewer"), tools, toolsFor(["Read", "Glob", "Grep", "Bash"], { usesGpu: false }));
    await expect(box.call("Write", { file_path: "a.py", content: "x" })).rejects.toThrow(/no tool named Write/);
    await expect(tools.readFile("a.py")).rejects.toThrow();
  });
});

describe("Claude Code's file tools over the workspace", () => {
  it("Write, Read with line numbers and offsets, Edit (unique or replace_all), Glob and Grep", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await box.call("Write", {
      file_path: `${tools.root}/pipeline/prep.py`,
      content: "import numpy\nx = 1\ny = x + 1\nprint(y)\n",
    });
    await box.call("Write", { file_path: "README.md", content: "# demo\nx marks the spot\n" });
    expect(await box.call("Read", { file_path: "pipeline/prep.py", offset: 2, limit: 2 })).toBe(
      "     2\tx = 1\n     3\ty = x + 1\n… 1 more lines (use offset 4 to read on)",
    );
    await expect(box.call("Edit", { file_path: "pipeline/prep.py", old_string: "x", new_string: "z" })).rejects.toThrow(
      /occurs 2 times/,
    );
    await box.call("Edit", { file_path: "pipeline/prep.py", old_string: "x = 1", new_string: "x = 2" });
    await expect(box.call("Edit", { file_path: "pipeline/prep.py", old_string: "print", new_string: "print" })).rejects.toThrow(
      /same/,
    );
    await box.call("Edit", { file_path: "pipeline/prep.py", old_string: "x", new_string: "w", replace_all: true });
    expect(await tools.readFile("pipeline/prep.py")).toBe("import numpy\nw = 2\ny = w + 1\nprint(y)\n");
    expect(await box.call("Glob", { pattern: "**/*.py" })).toBe("pipeline/prep.py");
    expect(await box.call("Glob", { pattern: "*.py", path: "pipeline" })).toBe("pipeline/prep.py");
    expect(await box.call("Grep", { pattern: "^w =" })).toBe("pipeline/prep.py");
    expect(await box.call("Grep", { pattern: "X", "-i": true, output_mode: "content", "-n": true, type: "md" })).toBe(
      "README.md:2:x marks the spot",
    );
    expect(await box.call("Grep", { pattern: "w", output_mode: "count" })).toBe("pipeline/prep.py:2");
    await expect(box.call("Read", { file_path: "/etc/passwd" })).rejects.toThrow(/outside the working directory/);
    await expect(box.call("Write", { file_path: "../escape.txt", content: "x" })).rejects.toThrow();
    expect(box.state.toolCalls).toBeGreaterThan(5);
  });

  it("Bash runs in the working directory and reports the exit code and stderr", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const out = await box.call("Bash", { command: "echo hello > a.txt && cat a.txt && echo oops >&2 && exit 3" });
    expect(out).toBe("hello\n[stderr]\noops\n[exit code 3]");
    expect(await tools.readFile("a.txt")).toBe("hello\n");
  });
});

describe("FinishStep", () => {
  it("needs an answer for every criterion id and no unknown ids; saves artifacts; unmet criteria fail the step", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await tools.writeFile("reports/r.md", "# report\n");
    await expect(box.call("FinishStep", { summary: "s", criteria: [{ id: "ac1", met: true, evidence: "ran" }] })).rejects.toThrow(
      /missing ac2/,
    );
    await expect(
      box.call("FinishStep", {
        summary: "s",
        criteria: [
          { id: "ac1", met: true, evidence: "ran" },
          { id: "ac9", met: true, evidence: "?" },
        ],
      }),
    ).rejects.toThrow(/unknown acceptance criterion id\(s\): ac9/);
    expect(box.state.result).toBeUndefined();
    await box.call("FinishStep", {
      summary: "done",
      criteria: [
        { id: "ac2", met: false, evidence: "no split file was written" },
        { id: "ac1", met: true, evidence: "python3 prep.py exited 0" },
      ],
      metrics: { rows: 10 },
      artifacts: ["reports/r.md"],
    });
    const r = box.state.result;
    expect(r?.status).toBe("failed");
    expect(r?.criteria.map((c) => [c.id, c.criterion, c.met])).toEqual([
      ["ac1", "the script runs", true],
      ["ac2", "the split is saved", false],
    ]);
    expect(r?.artifacts.map((a) => a.name)).toEqual(["reports/r.md"]);
    expect(r?.metrics).toEqual({ rows: 10 });
  });

  it("the code reviewer's FinishStep must carry a verdict with one check per ML pitfall", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work("code-reviewer"), tools, toolsFor(["Read"], { usesGpu: false }));
    const criteria = [
      { id: "ac1", met: true, evidence: "verdict below" },
      // A review that could not confirm something still ran: its result goes to the tech lead whole.
      { id: "ac2", met: false, evidence: "could not run the tests" },
    ];
    const checks = REVIEW_PITFALLS.map((pitfall) => ({ pitfall, status: "pass", evidence: `${pitfall}: looked` }));
    await expect(box.call("FinishStep", { summary: "ok", criteria })).rejects.toThrow();
    const verdict = { decision: "approve", summary: "clean", findings: [] };
    await expect(
      box.call("FinishStep", { summary: "ok", criteria, verdict: { ...verdict, checks: checks.slice(0, 6) } }),
    ).rejects.toThrow(/missing tests/);
    expect(box.state.result).toBeUndefined();
    await box.call("FinishStep", { summary: "ok", criteria, verdict: { ...verdict, checks } });
    expect(box.state.result?.verdict?.decision).toBe("approve");
    expect(box.state.result?.verdict?.checks).toHaveLength(7);
    expect(box.state.result?.status).toBe("succeeded");
  });
});
