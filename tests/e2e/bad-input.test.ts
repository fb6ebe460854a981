import { SERVICE_NAMES } from "@mllead/tools/services";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const SUBJECTS_TO_POISON = [
  "mllead.cmd.task.create",
  "mllead.cmd.task.decide",
  "mllead.work.step.data-engineer",
  "mllead.work.step.ml-engineer",
  "mllead.work.step.analyst",
  "mllead.work.step.code-reviewer",
  "mllead.work.gpu",
  "mllead.evt.task.tX.task.updated",
  "mllead.evt.task.tX.step.s1.completed",
  "mllead.evt.task.tX.job.j1.finished",
];

describe("@mllead under bad input, end to end", () => {
  it("malformed NATS messages on every subject, a forged Slack request and an unknown command: clear errors, and every service keeps working", async () => {
    await using stack = await startStack();
    const { sandbox } = stack;

    const nc = await connect({ servers: stack.nats.url });
    const js = (await import("@nats-io/jetstream")).jetstream(nc);
    for (const subject of SUBJECTS_TO_POISON) {
      await js.publish(subject, "{this is not json");
      await js.publish(subject, JSON.stringify({ v: 1, taskId: "has spaces and.dots", what: "wrong shape" }));
      await js.publish(subject, JSON.stringify({ v: 99 }));
    }
    await nc.close();

    // A forged signature is refused with 401; Slack would show the app as failing, nothing runs.
    const forged = await sandbox.postSigned(
      JSON.stringify({ type: "event_callback", event: { type: "app_mention", text: "hi" } }),
      "application/json",
      {
        signingSecret: "not-the-secret",
      },
    );
    expect(forged.status).toBe(401);

    // An unknown slash sub-command gets a clear answer listing what exists.
    const unknown = await sandbox.slash("deploy everything");
    expect(unknown.text).toMatch(/don't know the command `deploy`/);
    expect(unknown.text).toMatch(/\/mllead status/);

    // The services logged each bad message with its subject and dropped it; they are still alive and ready.
    await waitFor(
      () => stack.logs("tech-lead").some((l) => l.includes("invalid message on 'mllead.cmd.task.create'")),
      20_000,
      "the tech lead to log the bad command",
    );
    await waitFor(
      () => stack.logs("gpu-runner").some((l) => l.includes("invalid message on 'mllead.work.gpu'")),
      20_000,
      "the runner to log the bad job",
    );
    for (const name of SERVICE_NAMES) {
      const s = stack.services.get(name);
      expect(s?.proc.exitCode, name).toBeNull();
      const res = await fetch(`${await s?.ready}/readyz`);
      expect(res.status, `${name} /readyz`).toBe(200);
    }

    // And a real request still goes all the way to a plan.
    const sent = await sandbox.mention("explore the churn table");
    await waitFor(
      () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts)).some((m) => kindOf(m) === "task.planned"),
      30_000,
      "a plan after the bad input",
    );
  });
});
