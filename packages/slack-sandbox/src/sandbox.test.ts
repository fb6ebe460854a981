import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCode, WebClient } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import { startSlackSandbox } from "./index.js";

const TOKEN = "xoxb-test-token";
const SECRET = "test-signing-secret";

function client(apiUrl: string, token = TOKEN) {
  return new WebClient(token, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
}

async function platformError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; data?: { error?: string } };
    if (e.code === ErrorCode.PlatformError) return e.data?.error ?? "";
    return e.code ?? "unknown";
  }
  return "no error";
}

/** A stand-in app that records what the sandbox sends it. */
async function recordingApp() {
  const seen: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      seen.push({ headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ text: "pong" }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  return { seen, url, [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("slack sandbox web API (driven by the real @slack/web-api client)", () => {
  it("posts, threads, updates and finds messages by metadata like Slack", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    const auth = await web.auth.test();
    expect(auth.user_id).toBe(sandbox.bot.userId);

    const root = await web.chat.postMessage({ channel: sandbox.defaultChannel, text: "root" });
    expect(root.ts).toMatch(/^\d{10}\.\d{6}$/);
    const reply = await web.chat.postMessage({
      channel: sandbox.defaultChannel,
      thread_ts: root.ts as string,
      text: "plan",
      blocks: [{ type: "section", text: { type: "mrkdwn", text: "*plan*" } }],
      metadata: { event_type: "mllead_event", event_payload: { event_id: "e-1" } },
    });
    expect(Number(reply.ts)).toBeGreaterThan(Number(root.ts));
    await web.chat.update({ channel: sandbox.defaultChannel, ts: reply.ts as string, text: "plan v2" });

    const withMeta = await web.conversations.replies({
      channel: sandbox.defaultChannel,
      ts: root.ts as string,
      include_all_metadata: true,
    });
    expect(withMeta.messages?.map((m) => m.text)).toEqual(["root", "plan v2"]);
    expect(withMeta.messages?.[1]?.metadata?.event_payload).toEqual({ event_id: "e-1" });
    const without = await web.conversations.replies({ channel: sandbox.defaultChannel, ts: root.ts as string });
    expect(without.messages?.[1]?.metadata).toBeUndefined();

    await web.reactions.add({ channel: sandbox.defaultChannel, timestamp: root.ts as string, name: "eyes" });
    expect(
      await platformError(web.reactions.add({ channel: sandbox.defaultChannel, timestamp: root.ts as string, name: "eyes" })),
    ).toBe("already_reacted");
    await web.chat.postEphemeral({ channel: sandbox.defaultChannel, user: "U1", text: "only you", thread_ts: root.ts as string });
    expect(sandbox.ephemerals(sandbox.defaultChannel, "U1").map((e) => e.text)).toEqual(["only you"]);
    expect(sandbox.thread(sandbox.defaultChannel, root.ts as string)[0]?.reactions?.[0]?.name).toBe("eyes");
    expect(sandbox.calls("chat.postMessage")).toHaveLength(2);
    expect(JSON.stringify(sandbox.calls())).not.toContain(TOKEN);
  });

  it("answers Slack's error names and limits", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    const ch = sandbox.defaultChannel;
    expect(await platformError(web.chat.postMessage({ channel: "C404", text: "x" }))).toBe("channel_not_found");
    expect(await platformError(web.chat.postMessage({ channel: ch, text: "x".repeat(40_001) }))).toBe("msg_too_long");
    const many = Array.from({ length: 51 }, () => ({ type: "divider" as const }));
    expect(await platformError(web.chat.postMessage({ channel: ch, text: "x", blocks: many }))).toBe("invalid_blocks");
    const long = [{ type: "section" as const, text: { type: "mrkdwn" as const, text: "y".repeat(3001) } }];
    expect(await platformError(web.chat.postMessage({ channel: ch, text: "x", blocks: long }))).toBe("invalid_blocks");
    expect(await platformError(web.chat.update({ channel: ch, ts: "1.000001", text: "x" }))).toBe("message_not_found");
    expect(await platformError(client(sandbox.apiUrl, "xoxb-wrong").auth.test())).toBe("invalid_auth");
    const anonymous = await fetch(`${sandbox.apiUrl}auth.test`, { method: "POST" });
    expect(await anonymous.json()).toEqual({ ok: false, error: "not_authed" });
    // JSON bodies work too, as Slack accepts them.
    const json = await fetch(`${sandbox.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ channel: ch, text: "json body" }),
    });
    expect(await json.json()).toMatchObject({ ok: true, channel: ch });
  });

  it("rate-limits a method with HTTP 429 and Retry-After once turned on", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    sandbox.setRateLimit("chat.postMessage", 2);
    await web.chat.postMessage({ channel: sandbox.defaultChannel, text: "1" });
    await web.chat.postMessage({ channel: sandbox.defaultChannel, text: "2" });
    const raw = await fetch(`${sandbox.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ channel: sandbox.defaultChannel, text: "3" }),
    });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await platformError(web.chat.postMessage({ channel: sandbox.defaultChannel, text: "4" }))).toBe(
      ErrorCode.RateLimitedError,
    );
    // Other methods are not limited.
    await web.auth.test();
    sandbox.setRateLimit("chat.postMessage", null);
    await web.chat.postMessage({ channel: sandbox.defaultChannel, text: "5" });
  });
});

describe("slack sandbox driving an app", () => {
  it("signs events with v0 HMAC-SHA256 and replays retries with the same event_id", async () => {
    await using app = await recordingApp();
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: app.url });
    const sent = await sandbox.mention("train a baseline");
    await sandbox.retryEvent(sent.eventId, 1, "http_timeout");
    const [first, , retry] = app.seen;
    if (!first || !retry) throw new Error("the app received too few requests");
    const ts = first.headers["x-slack-request-timestamp"] as string;
    const expected = `v0=${createHmac("sha256", SECRET).update(`v0:${ts}:${first.body}`).digest("hex")}`;
    expect(first.headers["x-slack-signature"]).toBe(expected);
    const body = JSON.parse(first.body);
    expect(body).toMatchObject({ type: "event_callback", event_id: sent.eventId, event: { type: "app_mention" } });
    expect(body.event.text).toBe(`<@${sandbox.bot.userId}> train a baseline`);
    expect(retry.headers["x-slack-retry-num"]).toBe("1");
    expect(JSON.parse(retry.body).event_id).toBe(sent.eventId);
    expect(sandbox.history()[0]?.text).toContain("train a baseline");
  });

  it("sends slash commands form-encoded and shows the ack to the person", async () => {
    await using app = await recordingApp();
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: app.url });
    const out = await sandbox.slash("status");
    expect(out.text).toBe("pong");
    const form = new URLSearchParams(app.seen[0]?.body);
    expect(form.get("command")).toBe("/mllead");
    expect(form.get("text")).toBe("status");
    expect(form.get("response_url")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/response\//);
    expect(sandbox.ephemerals().map((e) => e.text)).toEqual(["pong"]);
  });

  it("serves the browser UI and its state", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const page = await fetch(sandbox.url);
    expect(await page.text()).toContain("mllead sandbox");
    const state = (await (await fetch(`${sandbox.url}/ui/state`)).json()) as { channels: { name: string }[] };
    expect(state.channels.map((c) => c.name)).toEqual(["general"]);
    const send = await fetch(`${sandbox.url}/ui/send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: sandbox.defaultChannel, text: "@mllead hello" }),
    });
    // No gateway is configured: the person gets a sentence saying so, not a stack trace.
    expect(await send.json()).toMatchObject({ ok: false, error: expect.stringContaining("Could not reach mllead") });
  });
});
