import pino from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { consumerLagMetrics } from "./consumer-metrics.js";

const log = pino({ level: "silent" });

describe("consumerLagMetrics", () => {
  it("reads each consumer's counts from NATS once per scrape; a consumer NATS does not answer for is left out", async () => {
    const asked: string[] = [];
    const bus = {
      consumerState: async (_stream: string, durable: string) => {
        asked.push(durable);
        if (durable === "broken") throw new Error("timeout");
        return { pending: 7, ackPending: 2 };
      },
    };
    const registry = new Registry();
    consumerLagMetrics(
      registry,
      bus,
      [
        { stream: "S", durable: "work" },
        { stream: "S", durable: "broken" },
      ],
      log,
    );
    const text = await registry.metrics();
    expect(text).toContain('mllead_consumer_pending_messages{consumer="work"} 7');
    expect(text).toContain('mllead_consumer_ack_pending_messages{consumer="work"} 2');
    expect(text).not.toContain('consumer="broken"');
    // Both gauges of one scrape share one reading.
    expect(asked).toEqual(["work", "broken"]);
  });
});
