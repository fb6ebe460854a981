import { Bus, currentTrace, inSpan, PoisonMessageError, type TraceCarrier } from "@mllead/bus";
import { createLogger, startTracing } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { startNatsServer } from "../helpers/nats-server.js";
import { type ReceivedSpan, startOtlpCollector } from "../helpers/otlp-collector.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("bus-traces", "silent");
const Note = z.object({ n: z.number().int() });
const STREAM = {
  name: "TRACES_T",
  subjects: ["traces.t.>", "traces.p.>"],
  retention: "limits",
  maxAgeSec: 600,
  duplicateWindowSec: 60,
} as const;
const CONSUMER = {
  stream: STREAM.name,
  durable: "traces-t",
  filterSubject: "traces.t.>",
  ackWaitSec: 30,
  maxDeliver: 5,
  maxAckPending: 10,
};
const DEAD = {
  name: "TRACES_DEAD",
  subjects: ["traces.dead.>"],
  retention: "limits",
  maxAgeSec: 600,
  duplicateWindowSec: 60,
} as const;
const POISONED = { ...CONSUMER, durable: "traces-p", filterSubject: "traces.p.>" };
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/**
 * The bus carries W3C trace context through NATS headers: this process registers the real SDK (service-kit's
 * `startTracing`, as every service does) against a local OTLP/HTTP receiver, and two connections play two services.
 */
describe("traces through the bus (real nats-server, spans exported over OTLP/HTTP)", () => {
  it("puts traceparent in the headers and makes the consumer's span a child of the publisher's", async () => {
    await using collector = await startOtlpCollector();
    await using nats = await startNatsServer();
    const tracing = await startTracing("bus-traces-test", { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }, log);
    expect(tracing.enabled).toBe(true);
    const publisher = await Bus.connect({ url: nats.url, name: "publisher", log });
    const consumer = await Bus.connect({ url: nats.url, name: "consumer", log });
    try {
      await publisher.setUp({ owns: { streams: [STREAM, DEAD] } });
      await consumer.setUp({ uses: { streams: [STREAM.name, DEAD.name] }, consumers: [CONSUMER, POISONED] });

      // Published outside any trace: no header, no span (a heartbeat opens no trace of its own).
      const untraced = await publisher.publish("traces.t.plain", Note, { n: 0 }, "plain-0");
      expect((await publisher.streamMessage(STREAM.name, untraced.seq))?.headers.traceparent).toBeUndefined();

      // Published inside a span: the stored message carries traceparent, naming that trace and the producer span.
      let work: { traceId: string; spanId: string } | undefined;
      const published = await inSpan("publisher work", {}, async (span) => {
        work = span.spanContext();
        return publisher.publish("traces.t.one", Note, { n: 1 }, "one-1");
      });
      const stored = await publisher.streamMessage(STREAM.name, published.seq);
      const header = TRACEPARENT.exec(stored?.headers.traceparent ?? "");
      expect(header?.[1]).toBe(work?.traceId);

      // The consumer runs its handler inside the trace the headers carried.
      const inHandler = new Map<number, TraceCarrier | undefined>();
      const handled = new Promise<void>((resolve) => {
        void consumer.consume(CONSUMER, Note, async (note) => {
          inHandler.set(note.n, currentTrace());
          if (inHandler.size === 2) resolve();
        });
      });
      await handled;
      expect(TRACEPARENT.exec(inHandler.get(1)?.traceparent ?? "")?.[1]).toBe(work?.traceId);
      expect(inHandler.get(0)?.traceparent).not.toContain(work?.traceId);

      // A handler that fails: its span is marked ERROR, and the copy set aside names the trace it failed in.
      const failing = await inSpan("poisoned work", {}, (span) =>
        publisher.publish("traces.p.one", Note, { n: 7 }, "p-7").then(() => span.spanContext().traceId),
      );
      await consumer.consume(
        POISONED,
        Note,
        async () => {
          throw new PoisonMessageError("never handleable (xoxb-1234-secret)");
        },
        { deadLetter: { subject: "traces.dead.p" } },
      );
      await waitFor(async () => (await publisher.streamState(DEAD.name)).messages === 1, 20_000, "the set-aside copy");
      const setAside = await publisher.streamMessage(DEAD.name, 1);
      expect(TRACEPARENT.exec(setAside?.headers.traceparent ?? "")?.[1]).toBe(failing);

      // Request/reply: the server's span is a child of the requester's.
      await consumer.serve(
        "traces.q",
        Note,
        Note,
        async (q) => ({ n: q.n + 1 }),
        () => ({ n: -1 }),
      );
      const reply = await inSpan("asking", {}, () => publisher.request("traces.q", Note, Note, { n: 41 }));
      expect(reply.n).toBe(42);

      // A context kept on a record (a task's) starts a span in that trace later, whatever is active then.
      const kept = await inSpan("kept", {}, async () => currentTrace());
      await inSpan("unrelated", {}, () => inSpan("later", { parent: kept }, async () => undefined));

      await tracing.flush();
      await waitFor(() => collector.spans.some((s) => s.name === "later"), 20_000, "the spans at the collector");
      expect(collector.refused).toEqual([]);
      const spans = collector.spans;
      const one = (name: string): ReceivedSpan => {
        const found = spans.filter((s) => s.name === name);
        expect(found, name).toHaveLength(1);
        return found[0] as ReceivedSpan;
      };

      const root = one("publisher work");
      const produce = one("publish traces.t.one");
      const process1 = spans.find((s) => s.name === "process traces.t.one") as ReceivedSpan;
      expect(root.service).toBe("bus-traces-test");
      expect(produce).toMatchObject({ traceId: root.traceId, parentSpanId: root.spanId, kind: 4 });
      expect(header?.[2]).toBe(produce.spanId);
      expect(process1).toMatchObject({ traceId: root.traceId, parentSpanId: produce.spanId, kind: 5 });
      expect(process1.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.destination.name": "traces.t.one",
        "messaging.operation.type": "process",
        "messaging.nats.stream": STREAM.name,
        "messaging.consumer.group.name": CONSUMER.durable,
        "messaging.nats.message.delivery_count": 1,
        "messaging.nats.message.stream_sequence": published.seq,
        "messaging.message.id": "one-1",
      });
      // The untraced message: no producer span; its consumer span starts a trace of its own.
      expect(spans.some((s) => s.name === "publish traces.t.plain")).toBe(false);
      const process0 = spans.find((s) => s.name === "process traces.t.plain") as ReceivedSpan;
      expect(process0.parentSpanId).toBeUndefined();
      expect(process0.traceId).not.toBe(root.traceId);

      const asking = one("asking");
      const request = one("request traces.q");
      const serve = one("serve traces.q");
      expect(request).toMatchObject({ traceId: asking.traceId, parentSpanId: asking.spanId, kind: 3 });
      expect(serve).toMatchObject({ traceId: asking.traceId, parentSpanId: request.spanId, kind: 2 });

      const poisoned = spans.find((s) => s.name === "process traces.p.one") as ReceivedSpan;
      expect(poisoned).toMatchObject({ traceId: failing, statusCode: 2 });
      // The error's text leaves the process scrubbed, as in the logs.
      expect(poisoned.statusMessage).toBe("never handleable ([redacted])");
      const exception = poisoned.events.find((e) => e.name === "exception");
      expect(exception?.attributes["exception.message"]).toBe("never handleable ([redacted])");
      expect(JSON.stringify(poisoned)).not.toContain("xoxb-1234-secret");

      const keptSpan = one("kept");
      const later = one("later");
      const unrelated = one("unrelated");
      expect(later).toMatchObject({ traceId: keptSpan.traceId, parentSpanId: keptSpan.spanId });
      expect(later.links).toEqual([{ traceId: unrelated.traceId, spanId: unrelated.spanId }]);
    } finally {
      await publisher.close();
      await consumer.close();
      await tracing.shutdown();
    }
  });
});
