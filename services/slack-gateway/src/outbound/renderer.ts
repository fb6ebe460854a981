import type { MessageContext } from "@mllead/bus";
import type { TaskEvent } from "@mllead/contracts";
import type { Logger } from "pino";
import type { ArtifactLinker } from "../artifact-links.js";
import type { SlackStore, TaskLink } from "../store.js";
import type { Delivery } from "./deliver.js";
import type { NewItem } from "./items.js";
import type { OutboundStore } from "./outbound-store.js";
import type { Outbox } from "./outbox.js";
import { gpuJobItems, stepItems } from "./step-items.js";
import { taskItems } from "./task-items.js";

export interface OutboundDeps {
  store: SlackStore;
  outbound: OutboundStore<Delivery>;
  outbox: Outbox<Delivery>;
  /** Least ms between two edits of one GPU job's message (the final state goes at once). Default 2000. */
  jobUpdateIntervalMs?: number;
  /** Signed links for the artifacts the thread does not upload; null or absent: named, not linked. */
  links?: ArtifactLinker | null;
}

/**
 * Turns task events into outbox items for the task's thread, quickly: the event is acknowledged as
 * soon as its items are kept, and Slack's pace never holds up the next event. An event that cannot
 * be rendered (no thread known, a render that throws) is set aside with its reason; it never
 * delays another thread.
 */
export class EventRenderer {
  constructor(private readonly deps: OutboundDeps) {}

  async handle(event: TaskEvent, ctx: Pick<MessageContext, "log">): Promise<void> {
    const log = ctx.log.child({ taskId: event.taskId, eventType: event.type, eventId: event.eventId });
    const link = await this.deps.store.linkForEvent(event);
    if (!link) {
      await this.setAside(event, `no Slack thread is known for task ${event.taskId}`, log);
      return;
    }
    let items: NewItem[];
    try {
      items = await this.itemsFor(event, link);
    } catch (err) {
      await this.setAside(event, `could not be rendered: ${(err as Error).message}`, log);
      return;
    }
    for (const item of items) await this.deps.outbox.enqueue({ ...item, channel: link.channel, threadTs: link.threadTs });
  }

  private async setAside(event: TaskEvent, reason: string, log: Logger): Promise<void> {
    log.warn({ reason }, "set an event aside");
    await this.deps.outbound.setAside({
      key: `event:${event.eventId}`,
      taskId: event.taskId,
      what: `event ${event.type}`,
      reason: reason.slice(0, 2000),
      at: new Date().toISOString(),
      body: JSON.stringify(event).slice(0, 20_000),
    });
  }

  private async itemsFor(event: TaskEvent, link: TaskLink): Promise<NewItem[]> {
    switch (event.type) {
      case "step.started":
      case "step.completed":
      case "step.failed":
      case "step.progress":
        return stepItems(event, link.brain, this.deps.links);
      case "job.queued":
      case "job.started":
      case "job.progress":
      case "job.finished":
        return gpuJobItems(event, link.brain, this.deps.store, this.deps.jobUpdateIntervalMs ?? 2000, this.deps.links);
      default:
        return taskItems(event, link, this.deps);
    }
  }
}
