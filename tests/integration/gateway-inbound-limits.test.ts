import { rawNats } from "@mllead/bus/testing";
import { emitEvent, taskIdFor } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { planEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 15_000, interval: 50 };
const INBOX = "MLLEAD_SLACK_IN";

const nowSec = () => Math.floor(Date.now() / 1000);

/** Every stored inbox message as it crossed NATS (a plain subscription sees each publish). */
function captureInbox(h: GatewayHarness): { sizes: number[]; texts: string[] } {
  const seen = { sizes: [] as number[], texts: [] as string[] };
  rawNats(h.lead).nc.subscribe("mllead.slack.in.>", {
    callback: (_err, msg) => {
      seen.sizes.push(msg.data.length);
      // The gateway stores each delivery sealed: its JSON as `body`, with the seal beside it.
      const sealed = JSON.parse(new TextDecoder().decode(msg.data)) as { body: string };
      const m = JSON.parse(sealed.body) as { envelope: { event: { text?: string } } };
      seen.texts.push(m.envelope.event.text ?? "");
    },
  });
  return seen;
}

async function stored(h: GatewayHarness): Promise<number> {
  return (await h.lead.streamState(INBOX)).lastSeq;
}

async function drained(h: GatewayHarness): Promise<void> {
  await vi.waitFor(async () => expect((await h.lead.streamState(INBOX)).messages).toBe(0), WAIT);
}

describe("slack-gateway: what Slack sends is checked at the door", () => {
  it("checks the signature window both ways: the year 2100 and ten minutes ago are refused, a skewed clock is not", async () => {
    await using h = await startGatewayHarness();
    const body = JSON.stringify({
      type: "event_callback",
      event_id: "EvWindow",
      team_id: "T0SANDBOX",
      event: { type: "app_mention", user: "U0HUMAN", text: "<@U0MLLEAD> hi", ts: "1700000000.000100", channel: "C0GENERAL" },
    });
    const year2100 = Math.floor(Date.UTC(2100, 0, 1) / 1000);
    for (const timestampSec of [year2100, nowSec() + 6 * 60, nowSec() - 10 * 60]) {
      const res = await h.sandbox.postSigned(body, "application/json", { timestampSec });
      expect(res.status, `timestamp ${timestampSec}`).toBe(401);
      expect(res.json).toEqual({
        ok: false,
        error: "invalid_signature",
        reason: "request timestamp is outside Slack's 5-minute window",
      });
    }
    expect(await stored(h)).toBe(0);

    // A clock four minutes off either way is inside Slack's window.
    expect((await h.sandbox.postSigned(body, "application/json", { timestampSec: nowSec() + 4 * 60 })).status).toBe(200);
    expect((await h.sandbox.postSigned(body, "application/json", { timestampSec: nowSec() - 4 * 60 })).status).toBe(200);
    // The same event_id twice: stored once.
    expect(await stored(h)).toBe(1);
  });

  it("an acknowledged mention and an acknowledged button click are already on NATS when Slack gets its 200", async () => {
    await using h = await startGatewayHarness();
    const sent = await h.sandbox.mention("train a baseline");
    expect(sent.status).toBe(200);
    // No waiting: the 200 came after JetStream stored the event.
    expect(await stored(h)).toBeGreaterThanOrEqual(1);

    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    const taskId = taskIdFor(sent.channel, sent.ts, h.sandbox.bot.teamId);
    await emitEvent(h.lead, planEvent(taskId, 1));
    const plan = await vi.waitFor(() => {
      const found = h.sandbox.thread(sent.channel, sent.ts).find((m) => m.text.startsWith("Plan revision 1"));
      if (!found) throw new Error("no plan yet");
      return found;
    }, WAIT);
    const commands = async () => (await h.lead.streamState("MLLEAD_CMD")).lastSeq;
    const before = await commands();
    expect((await h.sandbox.click(plan.ts, "mllead_approve", { user: "U0ALICE" })).status).toBe(200);
    expect(await commands()).toBe(before + 1);
  });

  it("a 200,000-character mention starts nothing: the person is told the limit, and NATS never carries more than it", async () => {
    await using h = await startGatewayHarness();
    const inbox = captureInbox(h);
    const sent = await h.sandbox.mention(`train ${"a very long request ".repeat(10_000)}`.slice(0, 200_000));
    expect(sent.status).toBe(200);

    const reply = await vi.waitFor(() => {
      const found = h.sandbox.thread(sent.channel, sent.ts).find((m) => m.text.includes("characters long"));
      if (!found) throw new Error("no reply yet");
      return found;
    }, WAIT);
    expect(reply.text).toContain("200,012 characters long");
    expect(reply.text).toContain("up to 4,000");
    expect(reply.text).toContain("Nothing was started");
    await drained(h);
    expect(h.creates()).toEqual([]);
    expect((await h.lead.streamState("MLLEAD_CMD")).lastSeq).toBe(0);
    // The mention and its `message` twin were stored trimmed to the limit.
    expect(inbox.texts.length).toBeGreaterThanOrEqual(2);
    for (const text of inbox.texts) expect(text.length).toBeLessThanOrEqual(4000);
    for (const size of inbox.sizes) expect(size).toBeLessThan(6000);
  });

  it("an over-long `changes:` reply and an over-long /mllead get the same clear answer instead of a truncated request", async () => {
    await using h = await startGatewayHarness();
    const root = await h.sandbox.mention("compare two models");
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);

    await h.sandbox.reply(root.ts, `changes: ${"use AUC and more folds ".repeat(300)}`);
    const answer = await vi.waitFor(() => {
      const found = h.sandbox.thread(root.channel, root.ts).find((m) => m.text.includes("characters long"));
      if (!found) throw new Error("no answer yet");
      return found;
    }, WAIT);
    expect(answer.text).toContain("6,909 characters long");
    await drained(h);
    expect(h.decides()).toEqual([]);

    const slash = await h.sandbox.slash(`status ${"x".repeat(50_000)}`);
    expect(slash.status).toBe(200);
    expect(slash.text).toContain("50,007 characters long");
  });

  it("when NATS cannot store an event, Slack gets a 503 to retry (no internals), and the retry is taken once NATS is back", async () => {
    await using h = await startGatewayHarness();
    await h.nats.stop();
    const sent = await h.sandbox.mention("train while NATS restarts");
    expect(sent.status).toBe(503);
    expect(sent.json).toEqual({ ok: false, error: "unavailable", reason: "mllead cannot store requests right now" });

    await h.nats.restart();
    await vi.waitFor(async () => expect((await h.sandbox.retryEvent(sent.eventId, 1, "http_error")).status).toBe(200), WAIT);
    await vi.waitFor(() => expect(h.creates().map((c) => c.text)).toEqual(["train while NATS restarts"]), WAIT);
    const ready = await fetch(`${h.gatewayUrl}/readyz`);
    expect(ready.status).toBe(200);
  });
});
