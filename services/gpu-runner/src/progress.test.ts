import type { JobProgress } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { ProgressThrottle, parseOutputLine } from "./progress.js";

describe("parseOutputLine", () => {
  it("reads a progress line", () => {
    expect(parseOutputLine('::mllead-progress {"step":3,"total":20,"metrics":{"loss":0.41}}')).toEqual({
      kind: "progress",
      progress: { step: 3, total: 20, metrics: { loss: 0.41 } },
    });
  });

  it("defaults metrics and keeps a message", () => {
    expect(parseOutputLine('::mllead-progress {"step":0,"message":"loading data"}')).toEqual({
      kind: "progress",
      progress: { step: 0, metrics: {}, message: "loading data" },
    });
  });

  it("treats malformed progress lines and ordinary output as log lines", () => {
    const lines = [
      "::mllead-progress {not json",
      '::mllead-progress {"step":-1}',
      '::mllead-progress {"step":1,"metrics":{"loss":"low"}}',
      "::mllead-progress",
      'epoch 1 ::mllead-progress {"step":1}',
      "plain output",
      "",
    ];
    for (const line of lines) expect(parseOutputLine(line)).toEqual({ kind: "log", line });
  });
});

describe("ProgressThrottle", () => {
  const p = (step: number): JobProgress => ({ step, metrics: {} });

  it("sends at most one update per interval and always the latest one at the end", () => {
    let t = 0;
    const sent: number[] = [];
    const th = new ProgressThrottle(
      (x) => sent.push(x.step),
      1000,
      () => t,
    );
    th.offer(p(1)); // first goes out at once
    t = 100;
    th.offer(p(2));
    t = 200;
    th.offer(p(3));
    expect(sent).toEqual([1]);
    th.flush(); // the job ended: the last update is never lost
    expect(sent).toEqual([1, 3]);
    th.flush();
    expect(sent).toEqual([1, 3]);
  });

  it("sends the held-back update when the interval ends", async () => {
    const sent: number[] = [];
    const th = new ProgressThrottle((x) => sent.push(x.step), 20);
    th.offer(p(1));
    th.offer(p(2));
    th.offer(p(3));
    expect(sent).toEqual([1]);
    await vi.waitFor(() => expect(sent).toEqual([1, 3]));
  });
});
