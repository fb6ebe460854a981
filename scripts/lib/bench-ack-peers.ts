/**
 * The processes `scripts/bench-ack.ts` measures against, one per invocation:
 *
 * - `world`: the Slack sandbox (the Web API the gateway renders into, with BENCH_CHANNELS channels)
 *   and a stand-in tech lead that answers every TaskCreate with a plan and a stream of status-card
 *   updates, so the gateway is rendering while it receives mentions.
 * - `bolt`: a bare Bolt app on Bolt's own HTTPReceiver that only acknowledges `app_mention`.
 *
 * Each reports readiness to its parent over IPC: `{ type: "ready", ... }`.
 */
import { Bus } from "@mllead/bus";
import { CONSUMERS, type EventOf, emitEvent, everyResource, type Plan, TaskCreate, type TaskView } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { startSlackSandbox } from "@mllead/slack-sandbox";
import { App, LogLevel } from "@slack/bolt";

const [mode] = process.argv.slice(2);
const env = process.env;
// The bench is our parent: when it goes, so do we.
process.on("disconnect", () => process.exit(0));

function plan(): Plan {
  const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[]): Plan["steps"][number] => ({
    id,
    role,
    title: `${role} step`,
    objective: "Do the part of the work this role owns, and report back with evidence.",
    context: "The churn table, refreshed nightly; last week's model is the baseline.",
    requirements: ["keep the split leak-free", "log every metric", "document what changed"],
    acceptanceCriteria: [
      { id: "ac1", text: "metrics logged for train and validation" },
      { id: "ac2", text: "no leakage between the splits" },
    ],
    params: {},
    nextHandoff: { to: "tech-lead", reason: "report back" },
    dependsOn,
    changesCode: role !== "analyst",
    usesGpu: role === "ml-engineer",
  });
  return {
    summary: "Clean the events table, train a baseline, analyse it and review the code.",
    scope: "multi-agent",
    risks: [{ risk: "label leakage", mitigation: "split by customer" }],
    brain: "offline",
    steps: [
      step("s1", "data-engineer", []),
      step("s2", "ml-engineer", ["s1"]),
      step("s3", "analyst", ["s2"]),
      step("s4", "code-reviewer", ["s1", "s2", "s3"]),
    ],
  };
}

/** The events a tech lead emits for one task while it plans and waits: a card, a plan, card updates. */
function eventsFor(cmd: TaskCreate): EventOf<"task.updated" | "task.planned">[] {
  const at = () => new Date().toISOString();
  const p = plan();
  const view = (seq: number, state: TaskView["state"]): EventOf<"task.updated"> => ({
    v: 1,
    eventId: `${cmd.taskId}:updated:${seq}`,
    taskId: cmd.taskId,
    at: at(),
    type: "task.updated",
    view: {
      id: cmd.taskId,
      text: cmd.text,
      state,
      revision: seq < 2 ? 0 : 1,
      requester: cmd.requester.userId,
      slack: cmd.slack,
      brain: "offline",
      steps: p.steps.map((s, i) => ({
        id: s.id,
        role: s.role,
        title: s.title,
        status: i < seq - 3 ? "completed" : "pending",
        attempt: 1,
      })),
      updatedAt: at(),
    },
  });
  const planned: EventOf<"task.planned"> = {
    v: 1,
    eventId: `${cmd.taskId}:planned:1`,
    taskId: cmd.taskId,
    at: at(),
    type: "task.planned",
    revision: 1,
    plan: p,
    requester: cmd.requester.userId,
  };
  return [
    view(1, "planning"),
    planned,
    view(2, "awaiting_approval"),
    view(3, "executing"),
    view(4, "executing"),
    view(5, "executing"),
  ];
}

async function world(): Promise<void> {
  const channels = Array.from({ length: Number(env.BENCH_CHANNELS ?? 8) }, (_, i) => ({ id: `C0BENCH${i}`, name: `bench-${i}` }));
  const sandbox = await startSlackSandbox({
    botToken: env.SLACK_BOT_TOKEN ?? "",
    signingSecret: env.SLACK_SIGNING_SECRET ?? "",
    channels,
  });
  const log = createLogger("bench-lead", "warn");
  const lead = await Bus.connect({ url: env.NATS_URL ?? "", name: "bench-lead", log });
  await lead.setUp(everyResource([CONSUMERS.techLeadCommands]));
  await lead.consume(
    CONSUMERS.techLeadCommands,
    TaskCreate,
    async (cmd) => {
      // BENCH_ACK_RENDER=0 measures the ack without rendering load (for diagnosis).
      if (env.BENCH_ACK_RENDER === "0") return;
      for (const e of eventsFor(cmd)) await emitEvent(lead, e);
    },
    { concurrency: 8 },
  );
  process.send?.({ type: "ready", apiUrl: sandbox.apiUrl, channels: channels.map((c) => c.id) });
}

async function bareBolt(): Promise<void> {
  const app = new App({
    signingSecret: env.SLACK_SIGNING_SECRET ?? "",
    // No auth.test: the bare app knows who it is, as a single-workspace app with a fixed token would.
    authorize: async () => ({ botToken: "xoxb-bench", botUserId: "U0MLLEAD", botId: "B0MLLEAD" }),
    logLevel: LogLevel.ERROR,
  });
  app.event("app_mention", async () => undefined);
  const port = Number(env.BENCH_BOLT_PORT ?? 0);
  await app.start(port);
  process.send?.({ type: "ready", port });
}

if (mode === "world") await world();
else if (mode === "bolt") await bareBolt();
else {
  process.stderr.write("usage: bench-ack-peers.ts world|bolt\n");
  process.exit(64);
}
