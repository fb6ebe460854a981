import type { Bus, Consumption } from "@mllead/bus";
import { CONSUMERS, SUBJECTS, type TaskEvent, TaskEvent as TaskEventSchema } from "@mllead/contracts";
import type { Logger } from "pino";
import type { ArtifactLinker } from "./artifact-links.js";
import { type Delivery, SlackDelivery } from "./outbound/deliver.js";
import { OutboundStore } from "./outbound/outbound-store.js";
import { Outbox } from "./outbound/outbox.js";
import { Poster } from "./outbound/poster.js";
import { EventRenderer } from "./outbound/renderer.js";
import type { SlackApi } from "./slack-api.js";
import type { SlackStore } from "./store.js";

/** The running outbound side: the events consumer and the outbox behind it. */
export interface Outbound {
  renderer: EventRenderer;
  outbox: Outbox<Delivery>;
  outbound: OutboundStore<Delivery>;
  stop(): Promise<void>;
}

/**
 * Starts the gateway's outbound side: the outbox (with whatever a previous process left in it) and
 * the consumer that turns task events into its items.
 */
export async function startOutbound(deps: {
  bus: Bus;
  store: SlackStore;
  slack: SlackApi;
  log: Logger;
  jobUpdateIntervalMs?: number;
  /** Consume task events (default true; tests may drive the renderer directly). */
  consume?: boolean;
  /** Signed links for artifacts the thread does not upload (MLLEAD_PUBLIC_URL); absent: named, not linked. */
  links?: ArtifactLinker | null;
}): Promise<Outbound> {
  const { bus, store, slack } = deps;
  const log = deps.log.child({ component: "outbound" });
  const outbound = await OutboundStore.open<Delivery>(bus, log);
  const poster = new Poster(slack, store, log);
  const links = deps.links ?? null;
  const delivery = new SlackDelivery({ slack, poster, store, outbound, bus, log, links });
  const outbox = new Outbox<Delivery>(outbound, delivery, {
    onError: (err, item) => log.warn({ err, postKey: item.key }, "an outbox item failed"),
  });
  await outbox.start();
  const renderer = new EventRenderer({
    store,
    outbound,
    outbox,
    links,
    ...(deps.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: deps.jobUpdateIntervalMs } : {}),
  });
  const consumption: Consumption | null =
    deps.consume === false
      ? null
      : await bus.consume(CONSUMERS.gateway, TaskEventSchema, async (event, ctx) => {
          // NATS permissions go by subject: an event whose payload names another task, step, job or kind is forged.
          const own = SUBJECTS.event(event as TaskEvent & { stepId?: string; jobId?: string });
          if (ctx.subject !== own) {
            ctx.log.warn(
              { taskId: event.taskId, eventId: event.eventId, own },
              "ignored an event that arrived on another subject than its own",
            );
            return;
          }
          await renderer.handle(event, ctx);
        });
  return {
    renderer,
    outbox,
    outbound,
    stop: async () => {
      await consumption?.stop();
      await outbox.stop();
    },
  };
}
