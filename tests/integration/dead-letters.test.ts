import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Brain } from "@mllead/brain";
import { Bus, SET_ASIDE_HEADERS } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { BUCKET_SPECS, DeadQuery, DeadReply, STREAMS, SUBJECTS, type TaskCreate } from "@mllead/contracts";
import { createLogger, natsCredentials } from "@mllead/service-kit";
import { REPO_ROOT, type ServiceName } from "@mllead/tools/services";
import { headers } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { buildTechLead, techLeadConsumers } from "../../services/tech-lead/src/app.js";
import { type NatsServer, startNatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const run = promisify(execFile);
const APPROVER = "UAPPROVER";

/** A brain that plans one step: enough for a replayed task.create to be planned. */
const brain: Brain = {
  kind: "offline",
  plan: async () => ({
    summary: "one step",
    scope: "single-agent",
    risks: [],
    brain: "offline",
    steps: [
      {
        id: "s1",
        role: "analyst",
        title: "look",
        objective: "o",
        context: "c",
        requirements: ["r"],
        acceptanceCriteria: [{ id: "ac1", text: "a" }],
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

async function connectAs(nats: NatsServer, service: ServiceName): Promise<Bus> {
  const credentials = natsCredentials(nats.users?.serviceEnv(service) ?? {});
  return Bus.connect({
    url: nats.url,
    name: `${service}-test`,
    log,
    inboxPrefix: `_INBOX_${service}`,
    ...(credentials ? { credentials } : {}),
  });
}

/** `pnpm dead …` as a real process, as the ops user. */
async function cli(nats: NatsServer, ...args: string[]): Promise<{ code: number; out: string }> {
  const env = { ...process.env, NATS_URL: nats.url, ...nats.users?.serviceEnv("ops") };
  const tsx = join(REPO_ROOT, "node_modules/.bin/tsx");
  return run(tsx, ["scripts/dead.ts", ...args], { cwd: REPO_ROOT, env }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
  );
}

const create = (taskId: string): TaskCreate => ({
  v: 1,
  taskId,
  text: "look at the churn table",
  requester: { userId: "UREQ" },
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  requestedAt: new Date().toISOString(),
});

describe("dead letters: list, show, replay, drop (tech lead in-process, each service its own NATS user)", () => {
  it("an approver and the ops CLI see what was set aside; a replay is handled again; others are refused", async () => {
    await using nats = await startNatsServer({ users: "nkeys" });
    const bus = await connectAs(nats, "tech-lead");
    const gateway = await connectAs(nats, "slack-gateway");
    await bus.setUp({
      owns: {
        streams: [STREAMS.commands, STREAMS.steps, STREAMS.events, STREAMS.deadLetters],
        buckets: [BUCKET_SPECS.tasks, BUCKET_SPECS.tasksQuarantine, BUCKET_SPECS.lessons],
      },
      consumers: techLeadConsumers(4),
    });
    const policy = { approvers: [APPROVER], maxReviewRounds: 1, maxReplans: 1 };
    const lead = await buildTechLead({ bus, brain, log, policy, concurrency: 4, setAsideAfter: 2 });
    await lead.start();
    const ask = (q: Omit<DeadQuery, "v" | "via" | "limit">, userId = APPROVER) =>
      gateway.request(SUBJECTS.deadQuery, DeadQuery, DeadReply, { v: 1, via: "slack", userId, limit: 10, ...q });
    try {
      // 1. The tech lead's own consumer sets aside a command that is not JSON.
      await rawNats(gateway).js.publish(SUBJECTS.taskCreate, "not json {", { msgID: "bad-1" });
      await waitFor(async () => (await bus.streamState(STREAMS.deadLetters.name)).messages === 1, 20_000, "the set-aside");
      // 2. A valid command kept as the bus keeps one that failed every delivery.
      const h = headers();
      h.set(SET_ASIDE_HEADERS.reason, "Claude was overloaded");
      h.set(SET_ASIDE_HEADERS.code, "handler_failed");
      h.set(SET_ASIDE_HEADERS.subject, SUBJECTS.taskCreate);
      h.set(SET_ASIDE_HEADERS.consumer, "tech-lead-commands");
      h.set(SET_ASIDE_HEADERS.deliveries, "2");
      h.set(SET_ASIDE_HEADERS.msgId, "slack-evt-9");
      const kept = await rawNats(bus).js.publish(SUBJECTS.deadLetter("tech-lead-commands"), JSON.stringify(create("t9")), {
        headers: h,
      });

      // Nobody but an approver, from Slack.
      const stranger = await ask({ action: "list" }, "USTRANGER");
      expect(stranger.ok ? "" : stranger.error.code).toBe("dead_letters_not_allowed");
      const posing = await gateway.request(SUBJECTS.deadQuery, DeadQuery, DeadReply, {
        v: 1,
        via: "cli",
        action: "drop",
        seq: kept.seq,
        limit: 10,
      });
      expect(posing.ok).toBe(false);

      const list = await ask({ action: "list" });
      if (!list.ok || list.action !== "list") throw new Error(`list failed: ${JSON.stringify(list)}`);
      expect(list.total).toBe(2);
      expect(list.entries.map((e) => [e.seq, e.consumer, e.subject, e.code])).toEqual([
        [kept.seq, "tech-lead-commands", SUBJECTS.taskCreate, "handler_failed"],
        [kept.seq - 1, "tech-lead-commands", SUBJECTS.taskCreate, "invalid_message"],
      ]);
      const bad = kept.seq - 1;
      const shown = await ask({ action: "show", seq: kept.seq });
      if (!shown.ok || shown.action !== "show") throw new Error("show failed");
      expect(shown.entry.payload).toContain('"taskId": "t9"');
      expect(shown.entry).toMatchObject({ msgId: "slack-evt-9", deliveries: 2, reason: "Claude was overloaded", cut: false });
      const notJson = await ask({ action: "replay", seq: bad });
      expect(notJson.ok ? "" : notJson.error.code).toBe("dead_letter_not_replayable");
      const missing = await ask({ action: "show", seq: 999 });
      expect(missing.ok ? "" : missing.error.code).toBe("no_such_dead_letter");

      // The operator's CLI lists and replays; the tech lead's consumer handles the replay with all its checks.
      const listed = await cli(nats, "list");
      expect(listed.code).toBe(0);
      expect(listed.out).toContain(`#${kept.seq}`);
      expect(listed.out).toContain("Claude was overloaded");
      const replayed = await cli(nats, "replay", String(kept.seq));
      expect(replayed).toMatchObject({ code: 0 });
      expect(replayed.out).toContain(`replay:${kept.seq}`);
      await waitFor(async () => (await lead.store.get("t9")) !== null, 20_000, "the replayed task");
      const after = await ask({ action: "list" });
      expect(after.ok && after.action === "list" ? after.entries.map((e) => e.seq) : []).toEqual([bad]);

      // Dropped from Slack by an approver: gone.
      const dropped = await ask({ action: "drop", seq: bad });
      expect(dropped).toMatchObject({ ok: true, action: "drop", seq: bad });
      expect((await cli(nats, "show", String(bad))).code).toBe(1);
      expect((await cli(nats, "list")).out).toContain("MLLEAD_DEAD is empty.");
      expect((await cli(nats, "show", "x")).code).toBe(2);
    } finally {
      await lead.stop();
      await Promise.all([bus.close(), gateway.close()]);
    }
  }, 90_000);
});
