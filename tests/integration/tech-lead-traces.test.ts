import type { Brain } from "@mllead/brain";
import { Bus, currentTrace, inSpan } from "@mllead/bus";
import { BUCKETS, CONSUMERS, everyResource, REVIEW_CRITERIA, SUBJECTS, type TaskCreate, TaskRecord } from "@mllead/contracts";
import { createLogger, startTracing } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildTechLead } from "../../services/tech-lead/src/app.js";
import { createTask } from "../../services/tech-lead/src/orchestrator.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { type ReceivedSpan, startOtlpCollector } from "../helpers/otlp-collector.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("tech-lead-traces", "silent");

/** A brain with a fixed one-step plan: the tech lead only plans here. */
const brain: Brain = {
  kind: "offline",
  plan: async () => ({
    summary: "review the change",
    scope: "single-agent",
    risks: [],
    brain: "offline",
    steps: [
      {
        id: "review",
        role: "code-reviewer",
        title: "review",
        objective: "o",
        context: "c",
        requirements: ["r"],
        acceptanceCriteria: [...REVIEW_CRITERIA],
        params: {},
        nextHandoff: { to: "tech-lead", reason: "x" },
        dependsOn: [],
        changesCode: false,
        usesGpu: false,
      },
    ],
  }),
  runStep: async () => {
    throw new Error("not used by the tech lead");
  },
  summarize: async () => "done",
  learn: async () => [],
  lessonFromFinding: async () => null,
};

const create = (taskId: string): TaskCreate => ({
  v: 1,
  taskId,
  text: "review the change",
  requester: { userId: "UREQ" },
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  requestedAt: new Date().toISOString(),
});

/**
 * What a crash leaves: a task stored with its outbox not yet sent and its plan not yet written. The tech lead that
 * starts next has no trace in hand — only the record — and its work on the task must still join the task's trace.
 */
describe("a restarted tech lead continues a task's trace from its record", () => {
  it("publishes the outbox and writes the plan in the trace the record names; a record without one still works", async () => {
    await using collector = await startOtlpCollector();
    await using nats = await startNatsServer();
    const tracing = await startTracing("tech-lead", { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }, log);
    const bus = await Bus.connect({ url: nats.url, name: "tech-lead-traces", log });
    try {
      await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, CONSUMERS.step("code-reviewer")]));
      const tasks = await bus.kv(BUCKETS.tasks, TaskRecord);
      const now = new Date().toISOString();
      // The mention's span, ended long before the tech lead starts: all that is left of it is the kept context.
      const trace = await inSpan("mention", { root: true }, async () => currentTrace());
      if (!trace) throw new Error("tracing is not on");
      await tasks.put("tTraced1", { ...createTask(create("tTraced1"), now), trace });
      // A record from before traces: no `trace` field.
      await tasks.put("tOld1", createTask(create("tOld1"), now));

      const lead = await buildTechLead({ bus, brain, log, policy: { approvers: [], maxReviewRounds: 1, maxReplans: 1 } });
      await lead.start();
      try {
        for (const id of ["tTraced1", "tOld1"])
          await waitFor(async () => (await lead.store.get(id))?.state === "awaiting_approval", 20_000, `${id} planned`);
      } finally {
        await lead.stop();
      }

      await tracing.flush();
      const traceId = trace.traceparent.split("-")[1];
      const mentionId = trace.traceparent.split("-")[2];
      const of = (taskId: string, name: string) =>
        collector.spans.filter((s) => s.name === name && (s.attributes["mllead.task.id"] === taskId || s.name.includes(taskId)));
      await waitFor(() => of("tTraced1", "write plan").length === 1, 20_000, "the traced task's plan span");

      const writePlan = of("tTraced1", "write plan")[0] as ReceivedSpan;
      expect(writePlan).toMatchObject({ traceId, parentSpanId: mentionId, service: "tech-lead" });
      const flushed = of("tTraced1", `publish ${SUBJECTS.event({ type: "task.updated", taskId: "tTraced1" })}`);
      expect(flushed.length).toBeGreaterThan(0);
      // The first task.updated is the crashed write's outbox, published at start-up straight under the mention.
      expect(flushed.some((s) => s.traceId === traceId && s.parentSpanId === mentionId)).toBe(true);
      const planned = of("tTraced1", `publish ${SUBJECTS.event({ type: "task.planned", taskId: "tTraced1" })}`);
      expect(planned).toMatchObject([{ traceId, parentSpanId: writePlan.spanId }]);

      // The old record was planned too, in a trace of its own (there was none to join).
      const oldPlan = of("tOld1", "write plan");
      expect(oldPlan).toHaveLength(1);
      expect(oldPlan[0]?.traceId).not.toBe(traceId);
      expect(oldPlan[0]?.parentSpanId).toBeUndefined();
    } finally {
      await bus.close();
      await tracing.shutdown();
    }
  });
});
