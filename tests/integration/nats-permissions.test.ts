import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Bus, connectNats, ProvisionError, permissionViolation } from "@mllead/bus";
import { rawKv, rawNats } from "@mllead/bus/testing";
import {
  BUCKET_SPECS,
  BUCKETS,
  CONSUMERS,
  OBJECT_STORE,
  objectStoreSpec,
  ScoutQuery,
  STREAMS,
  SUBJECTS,
} from "@mllead/contracts";
import { createLogger, natsCredentials } from "@mllead/service-kit";
import { REPO_ROOT, SERVICE_NAMES, type ServiceName } from "@mllead/tools/services";
import { connect, PermissionViolationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { readRunners } from "../../services/specialist-agent/src/scout-host.js";
import { type NatsServer, startNatsServer } from "../helpers/nats-server.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

/** A logger whose lines the test can read (what an operator would see). */
function capturedLogger(name: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger(name, "info", sink), lines };
}

/** A Bus connected the way runService connects `service`: its own credentials and reply prefix. */
async function connectAs(nats: NatsServer, service: ServiceName, log = createLogger(service, "silent")): Promise<Bus> {
  const credentials = natsCredentials(nats.users?.serviceEnv(service) ?? {});
  return Bus.connect({
    url: nats.url,
    name: `${service}-test`,
    log,
    ...(credentials ? { credentials } : {}),
    inboxPrefix: `_INBOX_${service}`,
  });
}

/** Expects the server to refuse what `attempt` does, naming a subject that contains `subject`. */
async function expectRefused(attempt: Promise<unknown>, subject: string): Promise<void> {
  const err = await attempt.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `the server should have refused '${subject}'`).not.toBeNull();
  expect(permissionViolation(err)?.subject ?? String(err)).toContain(subject);
}

describe("NATS least privilege: one user per service (infra/nats-permissions.conf) on a real nats-server", () => {
  let nats: NatsServer;
  let lead: Bus;

  beforeAll(async () => {
    nats = await startNatsServer({ users: "nkeys" });
    // The tech lead sets up what it owns, as it does at start-up.
    lead = await connectAs(nats, "tech-lead");
    await lead.setUp({
      owns: {
        streams: [STREAMS.commands, STREAMS.steps, STREAMS.events, STREAMS.deadLetters],
        buckets: [BUCKET_SPECS.tasks],
      },
      consumers: [CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults],
    });
    await (await rawKv(lead, BUCKETS.tasks)).put("t1", JSON.stringify({ state: "awaiting_approval" }));
  });
  afterAll(async () => {
    await lead?.close();
    await nats?.[Symbol.asyncDispose]();
  });

  it("refuses a client without credentials, and one whose key it does not know", async () => {
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization/i);
    await using strangers = await startNatsServer({ users: "nkeys" });
    // A well-formed seed of another installation is refused too.
    const stranger = natsCredentials(strangers.users?.serviceEnv("tech-lead") ?? {});
    await expect(
      Bus.connect({
        url: nats.url,
        name: "stranger",
        log: createLogger("t", "silent"),
        ...(stranger ? { credentials: stranger } : {}),
      }),
    ).rejects.toThrow(/Authorization/i);
  });

  it("the runner's user cannot publish a decision nor a step result, and says so loudly in its log", async () => {
    const { log, lines } = capturedLogger("gpu-runner");
    const runner = await connectAs(nats, "gpu-runner", log);
    try {
      await expectRefused(rawNats(runner).js.publish(SUBJECTS.taskDecide, "{}"), SUBJECTS.taskDecide);
      const stepResult = "mllead.evt.task.x.step.y.completed";
      await expectRefused(rawNats(runner).js.publish(stepResult, "{}"), stepResult);
      // A plain publish is refused the same way (the server drops it and tells the client).
      rawNats(runner).nc.publish(SUBJECTS.taskCreate, "{}");
      await rawNats(runner).nc.flush();
      await waitFor(
        () => lines.some((l) => l.includes(`NATS refused a publish on '${SUBJECTS.taskCreate}'`)),
        10_000,
        "the logged refusal",
      );
      expect(lines.join("")).toContain(`NATS refused a publish on '${SUBJECTS.taskDecide}'`);
    } finally {
      await runner.close();
    }
    // Nothing reached the streams.
    expect((await lead.streamState(STREAMS.commands.name)).messages).toBe(0);
    expect((await lead.streamState(STREAMS.events.name)).messages).toBe(0);
    expect(nats.log().some((l) => /Publish Violation.*mllead\.cmd\.task\.decide/.test(l))).toBe(true);
  });

  it("a specialist cannot write mllead_tasks, and the gateway cannot read it", async () => {
    const specialist = await connectAs(nats, "specialist-agent");
    const gateway = await connectAs(nats, "slack-gateway");
    try {
      // Through the KV client or straight to the bucket's subjects: refused either way.
      await expectRefused((await rawKv(specialist, BUCKETS.tasks)).put("t1", '{"state":"completed"}'), "$KV.mllead_tasks.t1");
      await expectRefused(rawNats(specialist).js.publish("$KV.mllead_tasks.t1", '{"state":"completed"}'), "$KV.mllead_tasks.t1");
      await expectRefused((await rawKv(gateway, BUCKETS.tasks)).get("t1"), "KV_mllead_tasks");
      await expectRefused(
        rawNats(gateway).jsm.direct.getMessage("KV_mllead_tasks", { last_by_subj: "$KV.mllead_tasks.t1" }),
        "DIRECT.GET.KV_mllead_tasks",
      );
      await expectRefused(
        rawNats(gateway).jsm.streams.getMessage("KV_mllead_tasks", { last_by_subj: "$KV.mllead_tasks.t1" }),
        "MSG.GET.KV_mllead_tasks",
      );
    } finally {
      await specialist.close();
      await gateway.close();
    }
    expect((await (await rawKv(lead, BUCKETS.tasks)).get("t1"))?.string()).toBe(JSON.stringify({ state: "awaiting_approval" }));
  });

  it("only the tech lead asks the scout and only a specialist answers; the specialist reads the runners' beats, never writes them", async () => {
    const specialist = await connectAs(nats, "specialist-agent");
    const gateway = await connectAs(nats, "slack-gateway");
    const runner = await connectAs(nats, "gpu-runner");
    try {
      await runner.setUp({ owns: { buckets: [BUCKET_SPECS.runners] } });
      const beat = { runnerId: "r1", host: "gpu-host-1", gpus: [], cpuSlots: 1, runningJobs: [], at: new Date().toISOString() };
      await (await rawKv(runner, BUCKETS.runners)).put("r1", JSON.stringify(beat));
      // The scout's answer carries what the specialist read of the runners' heartbeats.
      await specialist.serve(
        SUBJECTS.scoutQuery,
        ScoutQuery,
        z.object({ hosts: z.array(z.string()) }),
        async () => ({ hosts: (await readRunners(specialist)).map((r) => r.host) }),
        () => ({ hosts: [] }),
      );
      const reply = await lead.request(SUBJECTS.scoutQuery, ScoutQuery, z.object({ hosts: z.array(z.string()) }), {
        v: 1,
        taskId: "t1",
      });
      expect(reply.hosts).toEqual(["gpu-host-1"]);
      // Neither the Slack-facing gateway nor a runner may ask for the repository, nor a runner answer for a specialist.
      await expectRefused(rawNats(gateway).nc.request(SUBJECTS.scoutQuery, "{}"), SUBJECTS.scoutQuery);
      await expectRefused(rawNats(runner).nc.request(SUBJECTS.scoutQuery, "{}"), SUBJECTS.scoutQuery);
      const listening = rawNats(runner).nc.subscribe(SUBJECTS.scoutQuery);
      await expect(listening.closed).resolves.toBeInstanceOf(PermissionViolationError);
      // A specialist reads the heartbeats; it cannot forge one.
      await expectRefused((await rawKv(specialist, BUCKETS.runners)).put("r1", "{}"), "$KV.mllead_runners.r1");
    } finally {
      await Promise.all([specialist.close(), gateway.close(), runner.close()]);
    }
  });

  it("no service reads another's replies, takes another's messages, forges another's events or deletes a stream", async () => {
    const gateway = await connectAs(nats, "slack-gateway");
    const specialist = await connectAs(nats, "specialist-agent");
    const runner = await connectAs(nats, "gpu-runner");
    try {
      // Forged events and commands, each on a subject another service owns.
      await expectRefused(rawNats(gateway).js.publish("mllead.evt.task.x.task.completed", "{}"), "task.completed");
      await expectRefused(rawNats(specialist).js.publish(SUBJECTS.taskCreate, "{}"), SUBJECTS.taskCreate);
      await expectRefused(rawNats(specialist).js.publish("mllead.evt.task.x.job.j.finished", "{}"), "job.j.finished");
      await expectRefused(rawNats(runner).js.publish(SUBJECTS.stepWork("data-engineer"), "{}"), "work.step");
      // Taking the tech lead's step reports, or making a consumer on its streams.
      await expectRefused(
        rawNats(specialist).js.consumers.get(STREAMS.events.name, CONSUMERS.techLeadResults.durable),
        "CONSUMER.INFO.MLLEAD_EVENTS.tech-lead-results",
      );
      const next = `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.events.name}.${CONSUMERS.techLeadResults.durable}`;
      await expectRefused(rawNats(specialist).nc.request(next, JSON.stringify({ batch: 1 })), next);
      await expectRefused(
        rawNats(gateway).jsm.consumers.add(STREAMS.steps.name, { durable_name: "thief", filter_subject: "mllead.work.step.>" }),
        "CONSUMER.CREATE.MLLEAD_STEPS",
      );
      // Deleting or purging the pipeline.
      await expectRefused(rawNats(runner).jsm.streams.delete(STREAMS.events.name), "STREAM.DELETE");
      await expectRefused(rawNats(gateway).jsm.streams.purge(STREAMS.commands.name), "STREAM.PURGE");
      // Another service's replies (a status answer, a KV read of the tech lead's).
      const sub = rawNats(specialist).nc.subscribe("_INBOX_tech-lead.>");
      await expect(sub.closed).resolves.toBeInstanceOf(PermissionViolationError);
      // Creating what another service owns.
      await expect(runner.setUp({ owns: { streams: [STREAMS.commands] } })).rejects.toThrow(ProvisionError);
    } finally {
      await Promise.all([gateway.close(), specialist.close(), runner.close()]);
    }
    expect((await lead.streamState(STREAMS.events.name)).messages).toBe(0);
    // What the tech lead owns it may still do: set a message aside for an operator.
    await rawNats(lead).js.publish(SUBJECTS.deadLetter(CONSUMERS.techLeadCommands.durable), "{}");
    expect((await lead.streamState(STREAMS.deadLetters.name)).messages).toBe(1);
  });

  it("a service waits for what another owns instead of creating it, and goes on once the owner has", async () => {
    await using fresh = await startNatsServer({ users: "nkeys" });
    const { log, lines } = capturedLogger("gpu-runner");
    const runner = await connectAs(fresh, "gpu-runner", log);
    const specialist = await connectAs(fresh, "specialist-agent");
    try {
      // The runner needs the specialists' job queue and artifact store; they are not there yet.
      const runnerUp = runner.setUp({
        owns: { buckets: [BUCKET_SPECS.jobs, BUCKET_SPECS.runners] },
        uses: { objectStores: [OBJECT_STORE] },
        consumers: [CONSUMERS.gpuRunner],
      });
      await waitFor(
        () => lines.some((l) => l.includes("waiting for 'OBJ_mllead_artifacts'")),
        10_000,
        "the runner to say it waits",
      );
      expect(runner.isReady()).toBe(false);
      await specialist.setUp({ owns: { streams: [STREAMS.gpu], objectStores: [objectStoreSpec()] } });
      await runnerUp;
      expect(runner.isReady()).toBe(true);
      expect((await rawNats(runner).jsm.consumers.info(STREAMS.gpu.name, CONSUMERS.gpuRunner.durable)).name).toBe("gpu-runner");
    } finally {
      await Promise.all([runner.close(), specialist.close()]);
    }
  });

  it("dead letters: the tech lead may read, remove and replay them; only the ops user may ask as the operator", async () => {
    const gateway = await connectAs(nats, "slack-gateway");
    const opsCreds = natsCredentials(nats.users?.serviceEnv("ops") ?? {});
    // As `pnpm dead` connects: a bare connection (the ops user may not call the JetStream API).
    const ops = await connectNats({
      url: nats.url,
      name: "ops-test",
      log: createLogger("ops", "silent"),
      inboxPrefix: "_INBOX_ops",
      ...(opsCreds ? { credentials: opsCreds } : {}),
    });
    try {
      // What a replay publishes: the subjects of the consumers that set aside (tech-lead-commands, tech-lead-results).
      const replayed = await rawNats(lead).js.publish(SUBJECTS.taskCreate, "{}", { msgID: "replay:1" });
      expect(replayed.duplicate).toBe(false);
      await rawNats(lead).js.publish("mllead.evt.task.t1.step.s1.completed", "{}", { msgID: "replay:2" });
      // Reading and removing entries of MLLEAD_DEAD by sequence.
      const kept = await rawNats(lead).js.publish(SUBJECTS.deadLetter("tech-lead-commands"), "{}");
      expect((await rawNats(lead).jsm.streams.getMessage(STREAMS.deadLetters.name, { seq: kept.seq }))?.seq).toBe(kept.seq);
      expect(await rawNats(lead).jsm.streams.deleteMessage(STREAMS.deadLetters.name, kept.seq)).toBe(true);
      // The gateway may not pose as the operator, nor read MLLEAD_DEAD itself; ops may do nothing but ask.
      await expectRefused(rawNats(gateway).nc.request(SUBJECTS.deadOpsQuery, "{}", { timeout: 2000 }), SUBJECTS.deadOpsQuery);
      await expectRefused(rawNats(gateway).jsm.streams.getMessage(STREAMS.deadLetters.name, { seq: 1 }), "MSG.GET.MLLEAD_DEAD");
      await expectRefused(ops.request(SUBJECTS.taskCreate, "{}", { timeout: 2000 }), SUBJECTS.taskCreate);
      await expectRefused(ops.request(SUBJECTS.deadQuery, "{}", { timeout: 2000 }), SUBJECTS.deadQuery);
      await expectRefused(ops.request("$JS.API.INFO", "", { timeout: 2000 }), "$JS.API.INFO");
    } finally {
      await Promise.all([gateway.close(), ops.close()]);
    }
  });

  it("users with passwords (NATS_USER/NATS_PASSWORD) get the same permissions", async () => {
    await using pw = await startNatsServer({ users: "passwords" });
    const techLead = await connectAs(pw, "tech-lead");
    const runner = await connectAs(pw, "gpu-runner");
    try {
      await techLead.setUp({ owns: { streams: [STREAMS.commands] } });
      await expectRefused(rawNats(runner).js.publish(SUBJECTS.taskDecide, "{}"), SUBJECTS.taskDecide);
      await expect(
        Bus.connect({
          url: pw.url,
          name: "x",
          log: createLogger("t", "silent"),
          credentials: { user: "tech-lead", password: "guess" },
        }),
      ).rejects.toThrow(/Authorization/i);
    } finally {
      await Promise.all([techLead.close(), runner.close()]);
    }
  });

  it("compose publishes no NATS port beyond the host and gives each service its own credentials", () => {
    const compose = parse(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
      services: Record<
        string,
        { ports?: string[]; environment?: Record<string, string>; secrets?: unknown[]; env_file?: unknown }
      >;
      secrets?: Record<string, { file: string }>;
    };
    for (const port of compose.services.nats?.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    expect((compose.services.nats?.ports ?? []).some((p) => /:4222$/.test(p))).toBe(false);
    const seeds = new Set<string>();
    for (const name of SERVICE_NAMES) {
      const service = compose.services[name];
      expect(service?.environment?.NATS_CREDS).toBe("/run/secrets/nats-seed");
      const secret = JSON.stringify(service?.secrets ?? []);
      const source = /"source":"([^"]+)"/.exec(secret)?.[1] ?? "";
      expect(compose.secrets?.[source]?.file).toBe(`.mllead/nats-auth/${name}.nk`);
      seeds.add(source);
    }
    expect(seeds.size).toBe(SERVICE_NAMES.length);
    expect(readFileSync(join(REPO_ROOT, "infra/nats.conf"), "utf8")).toMatch(/include "nats-users.conf"/);
  });
});

describe("the whole flow with each service as its own NATS user", () => {
  it("plans, runs every step with a real job, answers /mllead status and jobs, and nothing is refused", async () => {
    await using stack = await startStack({}, { natsUsers: "nkeys" });
    const { sandbox } = stack;
    const refusals = () => [
      ...stack.nats.log().filter((l) => /Violation|Authorization Error/i.test(l)),
      ...SERVICE_NAMES.flatMap((n) => stack.logs(n).filter((l) => /NATS refused|could not set up NATS/.test(l))),
    ];
    // A flow that stalls says what NATS refused on the way.
    const waitForStep = (check: () => boolean, ms: number, what: string) =>
      waitFor(check, ms, what).catch((err: Error) => {
        throw new Error(`${err.message}; NATS refused:\n${refusals().join("\n") || "(nothing)"}`, { cause: err });
      });
    const sent = await sandbox.mention("train a baseline on the churn table");
    const thread = () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts));
    const find = (kind: string) => thread().find((m) => kindOf(m) === kind);
    await waitForStep(() => find("task.planned") !== undefined, 60_000, "the plan");
    const plan = find("task.planned");
    if (!plan) throw new Error("no plan");
    // The tech lead asked the scout (mllead.q.scout) and a specialist answered it.
    expect(visibleText(plan)).not.toMatch(/Planned without reading the repository/);
    expect((await sandbox.click(plan.ts, "mllead_approve")).status).toBe(200);
    await waitForStep(() => find("task.completed") !== undefined, 180_000, "the final summary");
    expect(thread().some((m) => kindOf(m) === "job")).toBe(true);
    expect((await sandbox.slash("status")).text).toMatch(/churn/);
    expect((await sandbox.slash("jobs")).text).toMatch(/e2e-runner|succeeded|job/i);
    await sandbox.openHome();

    expect(refusals()).toEqual([]);
  }, 300_000);
});
