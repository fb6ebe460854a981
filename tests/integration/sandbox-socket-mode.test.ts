import { type SlackSandbox, type SlackSandboxOptions, startSlackSandbox } from "@mllead/slack-sandbox";
import { App, type Authorize, LogLevel, SocketModeReceiver } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { startGatewayHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const BOT_TOKEN = "xoxb-socket-test";

async function sandboxWith(o: Partial<SlackSandboxOptions> = {}) {
  // No Request URL at all: whatever reaches the app must come over its socket.
  return startSlackSandbox({ botToken: BOT_TOKEN, signingSecret: "unused-in-socket-mode", ...o });
}

/** A Bolt app on Bolt's own SocketModeReceiver, pointed at the sandbox the way the gateway is (SLACK_API_URL). */
async function boltApp(sandbox: SlackSandbox, authorize?: Authorize<boolean>) {
  const receiver = new SocketModeReceiver({
    appToken: sandbox.appToken,
    logLevel: LogLevel.ERROR,
    installerOptions: { clientOptions: { slackApiUrl: sandbox.apiUrl } },
  });
  const common = { receiver, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: sandbox.apiUrl } };
  const app = authorize ? new App({ ...common, authorize }) : new App({ ...common, token: BOT_TOKEN });
  return {
    app,
    start: () => app.start(),
    [Symbol.asyncDispose]: async () => {
      await app.stop();
    },
  };
}

describe("the sandbox's Socket Mode with Bolt's own SocketModeReceiver", () => {
  it("connects through apps.connections.open and carries a mention, a button, a modal's errors and a slash command", async () => {
    await using sandbox = await sandboxWith();
    await using bolt = await boltApp(sandbox);
    bolt.app.event("app_mention", async ({ event, say }) => {
      await say({ thread_ts: event.ts, text: "on it", blocks: [] });
      await say({
        thread_ts: event.ts,
        text: "a plan",
        blocks: [
          {
            type: "actions",
            elements: [{ type: "button", action_id: "details", text: { type: "plain_text", text: "Details" } }],
          },
        ],
      });
    });
    bolt.app.action("details", async ({ ack, body, client }) => {
      await ack();
      await client.views.open({
        trigger_id: (body as { trigger_id: string }).trigger_id,
        view: {
          type: "modal",
          callback_id: "box",
          title: { type: "plain_text", text: "Changes" },
          submit: { type: "plain_text", text: "Send" },
          blocks: [
            {
              type: "input",
              block_id: "b",
              label: { type: "plain_text", text: "What" },
              element: { type: "plain_text_input", action_id: "what" },
            },
          ],
        },
      });
    });
    bolt.app.view("box", async ({ ack }) => {
      await ack({ response_action: "errors", errors: { b: "Say a little more." } });
    });
    bolt.app.command("/mllead", async ({ ack, command }) => {
      await ack({ text: `pong: ${command.text}` });
    });
    await bolt.start();
    expect(sandbox.calls("apps.connections.open")).toHaveLength(1);
    expect(sandbox.socketMode.connections()).toHaveLength(1);

    const sent = await sandbox.mention("@mllead train a baseline");
    expect(sent).toMatchObject({ status: 200, via: "socket" });
    await waitFor(() => sandbox.thread(sandbox.defaultChannel, sent.ts).length === 3, 10_000, "the app's replies");
    const plan = sandbox.thread(sandbox.defaultChannel, sent.ts)[2];
    if (!plan) throw new Error("no plan message");

    expect(await sandbox.click(plan.ts, "details")).toMatchObject({ status: 200, via: "socket" });
    await waitFor(() => sandbox.openViews().length === 1, 10_000, "the modal");
    const view = sandbox.openViews()[0];
    if (!view) throw new Error("no modal");
    // The ack's payload is the answer: the modal stays open with the error under the input.
    expect(await sandbox.submitView(view.id, { what: "x" })).toMatchObject({ status: 200, via: "socket" });
    expect(sandbox.openViews()[0]?.errors).toEqual({ b: "Say a little more." });

    expect((await sandbox.slash("status")).text).toBe("pong: status");
    const types = sandbox.socketMode.envelopes().map((e) => e.type);
    expect(new Set(types)).toEqual(new Set(["events_api", "interactive", "slash_commands"]));
    expect(sandbox.socketMode.envelopes().every((e) => e.ack !== undefined)).toBe(true);
  });

  it("retries an event whose envelope was not acked in time; Bolt sees retry_num and the same event_id", async () => {
    await using sandbox = await sandboxWith({ socketMode: { ackTimeoutMs: 1000, retryDelaysMs: [0] } });
    let calls = 0;
    // Bolt acks an event once the app is authorized: a slow first authorization is a late ack.
    const authorize: Authorize<boolean> = async () => {
      calls += 1;
      if (calls === 2) await new Promise((r) => setTimeout(r, 2500));
      return { botToken: BOT_TOKEN, botId: sandbox.bot.botId, botUserId: sandbox.bot.userId };
    };
    await using bolt = await boltApp(sandbox, authorize);
    const seen: { eventId: string; retryNum?: number; retryReason?: string }[] = [];
    bolt.app.event("member_joined_channel", async ({ body, context }) => {
      seen.push({
        eventId: (body as { event_id: string }).event_id,
        ...(context.retryNum !== undefined ? { retryNum: context.retryNum } : {}),
        ...(context.retryReason !== undefined ? { retryReason: context.retryReason } : {}),
      });
    });
    await bolt.start();
    // Bolt authorizes once while starting (auth.test); the event's is the second call.
    calls = 1;
    const sent = await sandbox.event({ type: "member_joined_channel", user: "U0NEW", channel: sandbox.defaultChannel });
    expect(sent).toMatchObject({ status: 200, via: "socket" });
    await waitFor(() => seen.length === 2, 5000, "both deliveries");
    expect(seen).toContainEqual({ eventId: sent.eventId, retryNum: 1, retryReason: "timeout" });
    expect(seen.every((s) => s.eventId === sent.eventId)).toBe(true);
    const log = sandbox.socketMode.envelopes();
    expect(log.map((e) => e.retry_attempt)).toEqual([0, 1]);
    expect(log[1]?.ack).toBeDefined();
    await waitFor(() => sandbox.socketMode.envelopes()[0]?.lateAck === true, 5000, "the late ack");
  });

  it("refresh_requested: Bolt reconnects on a new URL and an event sent in between arrives once", async () => {
    await using sandbox = await sandboxWith();
    await using bolt = await boltApp(sandbox);
    const texts: string[] = [];
    bolt.app.event("app_mention", async ({ event }) => {
      texts.push(event.text);
    });
    await bolt.start();
    const [first] = sandbox.socketMode.connections();
    await sandbox.socketMode.refresh();
    // Bolt's client closes and waits a few seconds before it reconnects; the mention waits for it.
    const sent = await sandbox.mention("@mllead sent while reconnecting");
    expect(sent).toMatchObject({ status: 200, via: "socket" });
    expect(sandbox.calls("apps.connections.open")).toHaveLength(2);
    const now = sandbox.socketMode.connections();
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(first);
    await waitFor(() => texts.length === 1, 5000, "the mention");
    expect(texts[0]).toContain("sent while reconnecting");
    expect(sandbox.socketMode.envelopes().every((e) => e.connection === now[0])).toBe(true);
  });

  it("the gateway in Socket Mode: a mention becomes one task, also across a connection refresh", async () => {
    await using h = await startGatewayHarness({ socketMode: true });
    const { sandbox } = h;
    const first = await sandbox.mention("@mllead train a baseline on the churn table");
    expect(first).toMatchObject({ status: 200, via: "socket" });
    await waitFor(() => h.creates().length === 1, 20_000, "the first task");
    await waitFor(
      () => sandbox.message(sandbox.defaultChannel, first.ts)?.reactions?.some((r) => r.name === "eyes") === true,
      20_000,
      "👀",
    );
    await sandbox.socketMode.refresh({ warningMs: 100 });
    const second = await sandbox.mention("@mllead evaluate the baseline");
    expect(second).toMatchObject({ status: 200, via: "socket" });
    await waitFor(() => h.creates().length === 2, 20_000, "the second task");
    expect(h.creates().map((c) => c.text)).toEqual([
      expect.stringContaining("churn table"),
      expect.stringContaining("evaluate the baseline"),
    ]);
  });
});
