import type { Bus, ConsumerSpec, ConsumerState } from "@mllead/bus";
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";

/** How long one scrape's reading of the consumers serves the other gauge of the same scrape (ms). */
const READING_TTL_MS = 1000;

/**
 * `mllead_consumer_pending_messages{consumer}` (messages of a durable consumer not delivered yet: the queue in
 * front of a service) and `mllead_consumer_ack_pending_messages{consumer}` (delivered, not yet acknowledged: work
 * in hand), read from NATS when Prometheus scrapes — one consumer-info request per consumer the service reads.
 * Every replica of a service reports the same numbers (the consumer is shared); a consumer NATS does not answer for
 * is left out of that scrape and the failure logged.
 */
export function consumerLagMetrics(
  registry: Registry,
  bus: Pick<Bus, "consumerState">,
  consumers: readonly Pick<ConsumerSpec, "stream" | "durable">[],
  log: Logger,
): void {
  if (consumers.length === 0) return;
  let reading: { at: number; states: Promise<Map<string, ConsumerState>> } | null = null;
  const read = () => {
    if (!reading || Date.now() - reading.at > READING_TTL_MS) reading = { at: Date.now(), states: readAll() };
    return reading.states;
  };
  const readAll = async () => {
    const states = new Map<string, ConsumerState>();
    for (const c of consumers) {
      try {
        states.set(c.durable, await bus.consumerState(c.stream, c.durable));
      } catch (err) {
        log.warn({ err, consumer: c.durable }, "could not read a consumer's counts for /metrics");
      }
    }
    return states;
  };
  const gauge = (name: string, help: string, pick: (s: ConsumerState) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["consumer"] as const,
      registers: [registry],
      async collect() {
        const states = await read();
        this.reset();
        for (const [consumer, s] of states) this.set({ consumer }, pick(s));
      },
    });
  gauge("mllead_consumer_pending_messages", "Messages of a durable consumer not delivered yet", (s) => s.pending);
  gauge(
    "mllead_consumer_ack_pending_messages",
    "Messages of a durable consumer delivered and not acknowledged yet",
    (s) => s.ackPending,
  );
}
