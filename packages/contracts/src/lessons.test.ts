import { describe, expect, it } from "vitest";
import { ChannelLessons, LessonsQuery, lessonsKey, MAX_LESSONS_PER_CHANNEL } from "./lessons.js";
import { Plan } from "./plan.js";

const plan = {
  summary: "s",
  scope: "single-agent",
  risks: [],
  brain: "offline",
  steps: [
    {
      id: "review",
      role: "code-reviewer",
      title: "t",
      objective: "o",
      context: "c",
      requirements: ["r"],
      acceptanceCriteria: [{ id: "ac1", text: "a" }],
      nextHandoff: { to: "tech-lead", reason: "x" },
    },
  ],
};

describe("lessons contracts", () => {
  it("a plan lists the lessons it applied by id and text; plans written before lessons still parse", () => {
    expect(Plan.parse(plan).lessonsApplied).toBeUndefined();
    const withLessons = { ...plan, lessonsApplied: [{ id: "L3", text: "Train for 20 epochs unless told otherwise" }] };
    expect(Plan.parse(withLessons).lessonsApplied).toEqual(withLessons.lessonsApplied);
    expect(Plan.safeParse({ ...plan, lessonsApplied: [{ id: "three", text: "x" }] }).success).toBe(false);
  });

  it("keys a channel's lessons by its id, and anything else in characters KV keys allow", () => {
    expect(lessonsKey("C0123ABCD")).toBe("C0123ABCD");
    expect(lessonsKey("team.chan nel")).toMatch(/^x[0-9a-f]+$/);
  });

  it("bounds a channel's book and a query", () => {
    const lesson = {
      id: "L1",
      channel: "C1",
      rule: "r",
      source: { kind: "change_request", taskId: "t1", text: "r" },
      by: "U1",
      at: "2025-01-01T00:00:00.000Z",
      lastAt: "2025-01-01T00:00:00.000Z",
    };
    const book = { v: 1, channel: "C1", lessons: Array.from({ length: MAX_LESSONS_PER_CHANNEL + 1 }, () => lesson) };
    expect(ChannelLessons.safeParse(book).success).toBe(false);
    expect(ChannelLessons.parse({ ...book, lessons: [lesson] }).lessons[0]).toMatchObject({ roles: [], times: 1 });
    expect(LessonsQuery.safeParse({ v: 1, channel: "C1", forget: "x".repeat(21) }).success).toBe(false);
    expect(LessonsQuery.safeParse({ v: 1 }).success).toBe(false);
  });
});
