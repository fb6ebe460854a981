import { type ConsumerSpec, STREAMS, type StreamSpec } from "@mllead/contracts";
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

function streamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(spec.maxAgeSec * 1000),
    duplicate_window: nanos(spec.duplicateWindowSec * 1000),
  };
}

function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  return {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitSec * 1000),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
  };
}

/** Creates every stream, or updates it to the current spec. Safe to run from every service at every start. */
export async function ensureStreams(jsm: JetStreamManager, specs: readonly StreamSpec[] = Object.values(STREAMS)): Promise<void> {
  for (const spec of specs) {
    const cfg = streamConfig(spec);
    const existing = await jsm.streams.info(spec.name).catch(() => null);
    if (!existing) {
      await jsm.streams.add(cfg).catch(async (err: unknown) => {
        // Another service created it between our look and our add.
        if (!(await jsm.streams.info(spec.name).catch(() => null))) throw err;
      });
    } else if (
      existing.config.max_age !== cfg.max_age ||
      existing.config.duplicate_window !== cfg.duplicate_window ||
      existing.config.subjects.join() !== spec.subjects.join()
    ) {
      await jsm.streams.update(spec.name, { ...existing.config, ...cfg });
    }
  }
}

/** Creates or updates each durable consumer. */
export async function ensureConsumers(jsm: JetStreamManager, specs: readonly ConsumerSpec[]): Promise<void> {
  for (const spec of specs) {
    const cfg = consumerConfig(spec);
    const existing = await jsm.consumers.info(spec.stream, spec.durable).catch(() => null);
    if (!existing) {
      await jsm.consumers.add(spec.stream, cfg).catch(async (err: unknown) => {
        if (!(await jsm.consumers.info(spec.stream, spec.durable).catch(() => null))) throw err;
      });
    } else if (
      existing.config.ack_wait !== cfg.ack_wait ||
      existing.config.max_deliver !== cfg.max_deliver ||
      existing.config.max_ack_pending !== cfg.max_ack_pending
    ) {
      await jsm.consumers.update(spec.stream, spec.durable, {
        ack_wait: cfg.ack_wait as number,
        max_deliver: cfg.max_deliver as number,
        max_ack_pending: cfg.max_ack_pending as number,
      });
    }
  }
}
