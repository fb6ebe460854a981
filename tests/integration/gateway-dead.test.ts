import { SET_ASIDE_HEADERS } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { SUBJECTS } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { headers } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { serveDeadLetters } from "../../services/tech-lead/src/dead-letters.js";
import { startGatewayHarness } from "../helpers/gateway.js";

const APPROVER = "UAPPROVER";

describe("slack-gateway: /mllead dead over signed HTTP, answered by the tech lead's dead-letter desk", () => {
  it("lists, shows and drops for an approver; refuses others; says so when the tech lead does not answer", async () => {
    await using h = await startGatewayHarness();
    expect((await h.sandbox.slash("help")).text).toContain("/mllead dead");
    // No tech lead answering yet.
    expect((await h.sandbox.slash("dead", { user: APPROVER })).text).toMatch(/the tech lead did not answer/);

    await serveDeadLetters({ bus: h.lead, approvers: [APPROVER], log: createLogger("tech-lead", "silent") });
    const hd = headers();
    hd.set(SET_ASIDE_HEADERS.reason, "step report did not parse: missing `result`");
    hd.set(SET_ASIDE_HEADERS.code, "invalid_message");
    hd.set(SET_ASIDE_HEADERS.subject, "mllead.evt.task.t1.step.s1.completed");
    hd.set(SET_ASIDE_HEADERS.consumer, "tech-lead-results");
    const kept = await rawNats(h.lead).js.publish(
      SUBJECTS.deadLetter("tech-lead-results"),
      JSON.stringify({ v: 1, taskId: "t1", note: "Alice's private words" }),
      { headers: hd },
    );

    const stranger = await h.sandbox.slash("dead", { user: "USTRANGER" });
    expect(stranger.text).toMatch(/only approvers/);
    expect(stranger.text).not.toContain("Alice");

    const list = await h.sandbox.slash("dead", { user: APPROVER });
    expect(list.text).toContain(`#${kept.seq}`);
    expect(list.text).toContain("mllead.evt.task.t1.step.s1.completed");
    expect(list.text).toContain("invalid_message");
    const shown = await h.sandbox.slash(`dead show ${kept.seq}`, { user: APPROVER });
    expect(shown.text).toContain("private words");
    expect((await h.sandbox.slash("dead show twelve", { user: APPROVER })).text).toMatch(/Say which entry/);
    expect((await h.sandbox.slash("dead show 999", { user: APPROVER })).text).toMatch(/has no entry 999/);
    expect((await h.sandbox.slash("dead frobnicate", { user: APPROVER })).text).toMatch(/I don't know `dead frobnicate`/);

    expect((await h.sandbox.slash(`dead drop ${kept.seq}`, { user: APPROVER })).text).toContain(`Dropped \`#${kept.seq}\``);
    expect((await h.sandbox.slash("dead list", { user: APPROVER })).text).toMatch(/none/);
  }, 60_000);
});
