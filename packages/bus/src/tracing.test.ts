import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { consumingSync, currentTrace, inSpan, producing, withTrace } from "./tracing.js";

// No SDK is registered in this process: what every service runs as when no OTLP endpoint is configured.
describe("tracing with no SDK registered (no OTLP endpoint)", () => {
  it("sends without headers, records nothing and keeps no trace on records", async () => {
    const seen: unknown[] = [];
    await inSpan("work", {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      await producing("a.subject", { name: "publish", size: 3 }, async (headers) => {
        seen.push(headers);
      });
      expect(currentTrace()).toBeUndefined();
    });
    expect(seen).toEqual([undefined]);
  });

  it("runs handlers and kept-trace work as they are, errors passing through", async () => {
    const carrier = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    expect(withTrace(carrier, () => 7)).toBe(7);
    let ran = false;
    consumingSync({ subject: "s", data: new Uint8Array(0) }, () => {
      ran = true;
      expect(trace.getActiveSpan()?.isRecording() ?? false).toBe(false);
    });
    expect(ran).toBe(true);
    await expect(inSpan("failing", { parent: carrier }, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  });
});
