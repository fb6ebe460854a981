import { ROLES, SUBJECTS } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { type ReceivedSpan, startOtlpCollector } from "../helpers/otlp-collector.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const TASK = "train a baseline on the churn table and compare it with last week's model";
const SERVICES = ["slack-gateway", "tech-lead", "specialist-agent", "gpu-runner"];

/** The spans of one trace, checked whole: one root, and every parent a span of the same trace. */
function checkTree(trace: ReceivedSpan[]): ReceivedSpan {
  const ids = new Set(trace.map((s) => s.spanId));
  expect(ids.size, "span ids are unique").toBe(trace.length);
  const roots = trace.filter((s) => s.parentSpanId === undefined);
  expect(roots.map((s) => `${s.service}:${s.name}`)).toEqual(["slack-gateway:mention"]);
  const orphans = trace.filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId));
  expect(
    orphans.map((s) => `${s.service}:${s.name}`),
    "spans whose parent is not in the trace",
  ).toEqual([]);
  return roots[0] as ReceivedSpan;
}

describe("one task is one trace: four service processes export OTLP/HTTP to a local receiver", () => {
  it("mention → plan → approve → steps → GPU job → summary share one trace rooted at the gateway's mention span", async () => {
    await using collector = await startOtlpCollector();
    let taskId = "";
    {
      // Spans leave each service in batches every 200 ms, and the rest when it stops (SIGTERM flushes them).
      await using stack = await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "200" });
      const { sandbox } = stack;
      const sent = await sandbox.mention(TASK);
      expect(sent.status).toBe(200);
      const thread = () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts));
      const find = (kind: string) => thread().find((m) => kindOf(m) === kind);
      await waitFor(() => find("task.planned") !== undefined, 60_000, "the plan");
      const plan = find("task.planned");
      if (!plan) throw new Error("no plan");
      // The approval comes over another path (an interaction on the gateway's main thread), minutes later in life.
      expect((await sandbox.click(plan.ts, "mllead_approve")).status).toBe(200);
      await waitFor(() => find("task.completed") !== undefined, 150_000, "the summary");
      const mention = collector.spans.find((s) => s.name === "mention");
      taskId = String(mention?.attributes["mllead.task.id"] ?? "");
      expect(taskId).not.toBe("");
      // The gateway's handling of the summary event is the last link of the chain.
      const summarySubject = SUBJECTS.event({ type: "task.completed", taskId });
      await waitFor(
        () =>
          collector.spans.some(
            (s) => s.service === "slack-gateway" && s.attributes["messaging.destination.name"] === summarySubject,
          ),
        30_000,
        "the gateway's span for the summary event",
      );
    }
    expect(collector.refused).toEqual([]);

    const spans = collector.spans;
    // One root mention (a redelivered mention, should the loaded machine cause one, joins it as a child).
    const mentions = spans.filter(
      (s) => s.name === "mention" && s.attributes["mllead.task.id"] === taskId && s.parentSpanId === undefined,
    );
    expect(mentions).toHaveLength(1);
    const traceId = (mentions[0] as ReceivedSpan).traceId;
    const trace = spans.filter((s) => s.traceId === traceId);
    expect(checkTree(trace)).toBe(mentions[0]);

    // Every span that is about this task — named by its attribute or by the subject it sent or handled — is in it.
    const aboutTask = spans.filter(
      (s) =>
        s.attributes["mllead.task.id"] === taskId || String(s.attributes["messaging.destination.name"] ?? "").includes(taskId),
    );
    expect(aboutTask.length).toBeGreaterThan(20);
    expect(aboutTask.filter((s) => s.traceId !== traceId).map((s) => `${s.service}:${s.name}`)).toEqual([]);

    // All four services took part, and the chain has each of its links.
    expect([...new Set(trace.map((s) => s.service))].sort()).toEqual([...SERVICES].sort());
    const processed = (service: string, subject: string) =>
      trace.filter((s) => s.service === service && s.kind === 5 && s.attributes["messaging.destination.name"] === subject);
    expect(processed("tech-lead", SUBJECTS.taskCreate)).not.toEqual([]);
    const decided = processed("tech-lead", SUBJECTS.taskDecide);
    expect(decided).not.toEqual([]);
    // The decision was sent from the gateway's `decide approve` span, a child of the mention's trace.
    const decide = trace.find((s) => s.spanId === decided[0]?.parentSpanId);
    const decideSpan = trace.find((s) => s.spanId === decide?.parentSpanId);
    expect(decideSpan).toMatchObject({ service: "slack-gateway", name: "decide approve" });
    for (const role of ROLES) expect(processed("specialist-agent", SUBJECTS.stepWork(role)), role).not.toEqual([]);
    expect(processed("gpu-runner", SUBJECTS.gpuJob)).not.toEqual([]);
    expect(trace.some((s) => s.service === "tech-lead" && s.name === "write plan")).toBe(true);
    expect(trace.some((s) => s.service === "tech-lead" && s.name === "write summary")).toBe(true);
    expect(processed("slack-gateway", SUBJECTS.event({ type: "task.completed", taskId }))).not.toEqual([]);
  });
});
