import { ErrorCode, WebClient } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type SlackSandboxOptions, startSlackSandbox } from "./index.js";

const BOT = "xoxb-test-token";
const APP = "xapp-1-A0MLLEAD-1-test";

async function sandboxWith(o: Partial<SlackSandboxOptions> = {}) {
  return startSlackSandbox({ botToken: BOT, signingSecret: "s", appToken: APP, ...o });
}

async function platformError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; data?: { error?: string } };
    return e.code === ErrorCode.PlatformError ? (e.data?.error ?? "") : (e.code ?? "unknown");
  }
  return "no error";
}

/** A bare Socket Mode client: the frames it got, and a way to ack. */
async function connect(apiUrl: string) {
  const web = new WebClient(APP, { slackApiUrl: apiUrl, retryConfig: { retries: 0 } });
  const { url } = (await web.apps.connections.open()) as { url: string };
  const ws = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  let pings = 0;
  ws.on("ping", () => {
    pings += 1;
  });
  ws.on("message", (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const next = async (type: string, after = 0) => {
    for (let i = 0; i < 200; i++) {
      const f = frames.slice(after).find((x) => x.type === type);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type} frame`);
  };
  return {
    url,
    ws,
    frames,
    pings: () => pings,
    next,
    ack: (envelopeId: unknown, payload?: unknown) =>
      ws.send(JSON.stringify({ envelope_id: envelopeId, ...(payload ? { payload } : {}) })),
    [Symbol.asyncDispose]: async () => {
      ws.terminate();
    },
  };
}

describe("slack sandbox Socket Mode (server side of Slack's protocol)", () => {
  it("opens a connection with the app-level token only, and refuses other tokens the way Slack does", async () => {
    await using sandbox = await sandboxWith();
    const withBot = new WebClient(BOT, { slackApiUrl: sandbox.apiUrl, retryConfig: { retries: 0 } });
    const otherApp = new WebClient("xapp-1-A0OTHER-1-nope", { slackApiUrl: sandbox.apiUrl, retryConfig: { retries: 0 } });
    const withApp = new WebClient(APP, { slackApiUrl: sandbox.apiUrl, retryConfig: { retries: 0 } });
    expect(await platformError(withBot.apps.connections.open())).toBe("not_allowed_token_type");
    expect(await platformError(otherApp.apps.connections.open())).toBe("invalid_auth");
    // An app-level token is no bot token: it cannot post.
    expect(await platformError(withApp.chat.postMessage({ channel: sandbox.defaultChannel, text: "hi" }))).toBe(
      "not_allowed_token_type",
    );
    const opened = (await withApp.apps.connections.open()) as { url: string };
    expect(opened.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=[0-9a-f]+&app_id=A0MLLEAD$/);
  });

  it("greets with hello (connection count, debug info, app id), pings, and takes each ticket once", async () => {
    await using sandbox = await sandboxWith({ socketMode: { pingIntervalMs: 50 } });
    await using a = await connect(sandbox.apiUrl);
    const hello = await a.next("hello");
    expect(hello).toMatchObject({ num_connections: 1, connection_info: { app_id: "A0MLLEAD" } });
    expect(hello.debug_info).toMatchObject({ host: expect.any(String), approximate_connection_time: expect.any(Number) });
    await using b = await connect(sandbox.apiUrl);
    expect(await b.next("hello")).toMatchObject({ num_connections: 2 });
    expect(sandbox.socketMode.connections()).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.pings()).toBeGreaterThan(1);

    // A ticket is single-use: the same URL again is refused at the upgrade.
    const again = new WebSocket(a.url);
    const status = await new Promise<number | undefined>((resolve) => {
      again.once("unexpected-response", (_req, res) => resolve(res.statusCode));
      again.once("open", () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it("sends events as envelopes, takes acks with a payload, and retries an unacked event with retry_attempt", async () => {
    await using sandbox = await sandboxWith({ socketMode: { ackTimeoutMs: 500, retryDelaysMs: [0, 50] } });
    await using app = await connect(sandbox.apiUrl);
    await app.next("hello");

    const first = sandbox.mention("train a baseline");
    const env = await app.next("events_api");
    expect(env).toMatchObject({
      type: "events_api",
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: "",
      payload: { type: "event_callback", event: { type: "app_mention" } },
    });
    expect(env.envelope_id).toEqual(expect.any(String));
    // Not acked: Slack sends the same event again, marked as a retry.
    const n = app.frames.length;
    const retry = await app.next("events_api", n);
    expect(retry).toMatchObject({ retry_attempt: 1, retry_reason: "timeout" });
    expect((retry.payload as { event_id: string }).event_id).toBe((env.payload as { event_id: string }).event_id);
    expect(retry.envelope_id).not.toBe(env.envelope_id);
    app.ack(retry.envelope_id);
    // The mention's message event follows; ack it so the mention completes.
    const message = await app.next("events_api", app.frames.indexOf(retry) + 1);
    app.ack(message.envelope_id);
    const sent = await first;
    expect(sent).toMatchObject({ status: 200, via: "socket" });
    app.ack(env.envelope_id);
    await new Promise((r) => setTimeout(r, 50));
    const log = sandbox.socketMode.envelopes();
    expect(log.map((e) => [e.retry_attempt, e.ack !== undefined])).toEqual([
      [0, false],
      [1, true],
      [0, true],
    ]);
    expect(log[0]?.lateAck).toBe(true);

    // A slash command's ack carries the answer the person sees.
    const slash = sandbox.slash("status");
    const cmd = await app.next("slash_commands");
    expect(cmd).toMatchObject({ accepts_response_payload: true, payload: { command: "/mllead", text: "status" } });
    expect(cmd).not.toHaveProperty("retry_attempt");
    app.ack(cmd.envelope_id, { text: "No tasks yet." });
    expect((await slash).text).toBe("No tasks yet.");
  });

  it("never retries an interaction: an unacked click is a timeout the person is told about", async () => {
    await using sandbox = await sandboxWith({ socketMode: { ackTimeoutMs: 100, retryDelaysMs: [0, 0, 0] } });
    await using app = await connect(sandbox.apiUrl);
    await app.next("hello");
    const web = new WebClient(BOT, { slackApiUrl: sandbox.apiUrl });
    const posted = await web.chat.postMessage({
      channel: sandbox.defaultChannel,
      text: "plan",
      blocks: [{ type: "actions", elements: [{ type: "button", action_id: "go", text: { type: "plain_text", text: "Go" } }] }],
    });
    const click = await sandbox.click(posted.ts as string, "go");
    expect(click).toMatchObject({ status: 408, via: "socket" });
    expect(sandbox.socketMode.envelopes().filter((e) => e.type === "interactive")).toHaveLength(1);
  });

  it("refresh: disconnect warning then refresh_requested; an event sent meanwhile waits for the new connection", async () => {
    await using sandbox = await sandboxWith({ socketMode: { closeAfterRefreshMs: 100 } });
    const old = await connect(sandbox.apiUrl);
    await old.next("hello");
    await sandbox.socketMode.refresh({ warningMs: 20 });
    await old.next("disconnect", old.frames.findIndex((f) => f.type === "disconnect") + 1);
    expect(old.frames.filter((f) => f.type === "disconnect").map((f) => f.reason)).toEqual(["warning", "refresh_requested"]);
    // The app has not reconnected yet: the event waits instead of being lost.
    const sent = sandbox.say("hello while reconnecting");
    await new Promise((r) => setTimeout(r, 200));
    expect(old.ws.readyState).toBe(WebSocket.CLOSED);
    await using fresh = await connect(sandbox.apiUrl);
    await fresh.next("hello");
    const env = await fresh.next("events_api");
    fresh.ack(env.envelope_id);
    expect(await sent).toMatchObject({ status: 200, via: "socket" });
    expect(old.frames.some((f) => f.type === "events_api")).toBe(false);
    expect(sandbox.socketMode.connections()).toHaveLength(1);
  });
});
