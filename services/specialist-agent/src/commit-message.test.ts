import { describe, expect, it } from "vitest";
import { formatStepMessage, oneLine, parseTrailers, stepTrailers } from "./commit-message.js";

const step = { taskId: "t-abc123", stepId: "prep", role: "data-engineer", attempt: 2, title: "Prepare the churn data" } as const;

describe("formatStepMessage", () => {
  it("names the role in the subject and the task, step and attempt in the body and trailers", () => {
    expect(formatStepMessage(step)).toBe(
      [
        "mllead(data-engineer): Prepare the churn data",
        "",
        "Step prep (attempt 2) of task t-abc123, by the data-engineer specialist.",
        "",
        "Mllead-Task: t-abc123",
        "Mllead-Step: prep",
        "Mllead-Attempt: 2",
        "",
      ].join("\n"),
    );
  });

  it("keeps the subject to one line of at most 72 characters", () => {
    const subject = formatStepMessage({ ...step, title: `Train\nthe model\t${"x".repeat(200)}` }).split("\n")[0] ?? "";
    expect(subject.startsWith("mllead(data-engineer): Train the model xxx")).toBe(true);
    expect(subject.length).toBeLessThanOrEqual(72);
    expect(subject.endsWith("…")).toBe(true);
  });

  it("falls back to the step id for an empty title", () => {
    expect(formatStepMessage({ ...step, title: " \n " }).split("\n")[0]).toBe("mllead(data-engineer): step prep");
    expect(oneLine("a\u0000b\r\nc")).toBe("a b c");
  });
});

describe("parseTrailers / stepTrailers", () => {
  it("reads back what formatStepMessage wrote", () => {
    const trailers = formatStepMessage(step).split("\n\n")[2] ?? "";
    expect(stepTrailers(parseTrailers(trailers))).toEqual({ taskId: "t-abc123", stepId: "prep", attempt: 2 });
  });

  it("gives nothing for commits without mllead's trailers, and ignores a bad attempt", () => {
    expect(stepTrailers(parseTrailers(""))).toEqual({});
    expect(stepTrailers(parseTrailers("Signed-off-by: a <b@c>\nMllead-Attempt: zero"))).toEqual({});
  });
});
