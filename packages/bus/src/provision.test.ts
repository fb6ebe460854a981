import type { JetStreamManager } from "@nats-io/jetstream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { awaitStreams } from "./provision.js";
import { natsTimeoutError } from "./testing.js";

const log = pino({ level: "silent" });

/** A JetStreamManager whose `streams.info` answers with `answers` in turn (an Error is thrown), then the last. */
function jsmAnswering(answers: (Error | object)[]): { jsm: JetStreamManager; asked: () => number } {
  let asked = 0;
  const info = async () => {
    const a = answers[Math.min(asked, answers.length - 1)];
    asked++;
    if (a instanceof Error) throw a;
    return a;
  };
  return { jsm: { streams: { info } } as unknown as JetStreamManager, asked: () => asked };
}

describe("awaitStreams", () => {
  it("asks again when a look times out (a cluster electing a leader) instead of stopping the service", async () => {
    const { jsm, asked } = jsmAnswering([natsTimeoutError(), natsTimeoutError(), { config: { name: "S" } }]);
    await expect(awaitStreams(jsm, ["S"], { log })).resolves.toBeUndefined();
    expect(asked()).toBe(3);
  }, 10_000);

  it("throws a refusal at once: waiting cannot fix it", async () => {
    const { jsm, asked } = jsmAnswering([new Error("permissions violation for subscription")]);
    await expect(awaitStreams(jsm, ["S"], { log })).rejects.toThrow(/stream 'S'/);
    expect(asked()).toBe(1);
  });
});
