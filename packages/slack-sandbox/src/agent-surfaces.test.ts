import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCode, WebClient } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import { startSlackSandbox } from "./index.js";
import { RateLimiter } from "./rate-limit.js";

const TOKEN = "xoxb-test-token";
const SECRET = "test-signing-secret";

function client(apiUrl: string) {
  return new WebClient(TOKEN, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
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

describe("slack sandbox: Slack's agent surfaces, driven by the real @slack/web-api client", () => {
  it("streams a reply with chat.startStream / appendStream / stopStream (the chatStream helper) and refuses what Slack refuses", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    const ch = sandbox.defaultChannel;
    const root = await web.chat.postMessage({ channel: ch, text: "summarise please" });
    const threadTs = root.ts as string;
    // In a channel, a stream must name the person it answers.
    expect(await platformError(web.chat.startStream({ channel: ch, thread_ts: threadTs, markdown_text: "x" }))).toBe(
      "missing_recipient_user_id",
    );
    expect(
      await platformError(
        web.chat.startStream({ channel: ch, thread_ts: threadTs, markdown_text: "x", recipient_user_id: "U1" }),
      ),
    ).toBe("missing_recipient_team_id");

    const streamer = web.chatStream({
      channel: ch,
      thread_ts: threadTs,
      recipient_user_id: "U1",
      recipient_team_id: sandbox.bot.teamId,
      buffer_size: 10,
    });
    await streamer.append({ markdown_text: "**Done** — the baseline " });
    expect(streamer.ts).toBeDefined();
    const ts = streamer.ts as string;
    expect(sandbox.message(ch, ts)?.text).toBe("**Done** — the baseline ");
    await streamer.append({ markdown_text: "beats last week." });
    await streamer.stop({
      blocks: [{ type: "context", elements: [{ type: "mrkdwn", text: "task t1" }] }],
      metadata: { event_type: "mllead_event", event_payload: { event_id: "t1:completed" } },
    });
    const done = sandbox.message(ch, ts);
    expect(done?.text).toBe("**Done** — the baseline beats last week.");
    expect(done?.blocks?.[0]).toEqual({ type: "markdown", text: "**Done** — the baseline beats last week." });
    expect(done?.metadata?.event_payload).toEqual({ event_id: "t1:completed" });
    expect(await platformError(web.chat.appendStream({ channel: ch, ts, markdown_text: "more" }))).toBe(
      "message_not_in_streaming_state",
    );
    expect(await platformError(web.chat.stopStream({ channel: ch, ts }))).toBe("message_not_in_streaming_state");
    expect(await platformError(web.chat.appendStream({ channel: ch, ts: "1.000001", markdown_text: "x" }))).toBe(
      "message_not_found",
    );
    const started = await web.chat
      .startStream({
        channel: ch,
        thread_ts: threadTs,
        recipient_user_id: "U1",
        recipient_team_id: sandbox.bot.teamId,
        markdown_text: "y".repeat(12_001),
      })
      .catch((e: { data?: { error?: string } }) => e.data?.error);
    expect(started).toBe("msg_too_long");
  });

  it("shows the app's status in a thread until it replies, and answers missing_scope where the app may not", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    const ch = sandbox.defaultChannel;
    const root = (await web.chat.postMessage({ channel: ch, text: "plan this" })).ts as string;
    await web.assistant.threads.setStatus({ channel_id: ch, thread_ts: root, status: "is writing a plan…" });
    expect(sandbox.threadStatus(ch, root)).toBe("is writing a plan…");
    expect(await platformError(web.assistant.threads.setStatus({ channel_id: ch, thread_ts: "1.000001", status: "x" }))).toBe(
      "invalid_thread_ts",
    );
    await web.chat.postMessage({ channel: ch, thread_ts: root, text: "the plan" });
    expect(sandbox.threadStatus(ch, root)).toBeUndefined();
    sandbox.setThreadStatusAllowed(false);
    expect(await platformError(web.assistant.threads.setStatus({ channel_id: ch, thread_ts: root, status: "x" }))).toBe(
      "missing_scope",
    );
  });

  it("takes an upload in two steps, shares it in the thread with title and alt text, and refuses one that is too large", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, maxUploadBytes: 1000 });
    const web = client(sandbox.apiUrl);
    const ch = sandbox.defaultChannel;
    const root = (await web.chat.postMessage({ channel: ch, text: "train" })).ts as string;
    const png = Buffer.from("89504e470d0a1a0a0000", "hex");
    const url = await web.files.getUploadURLExternal({ filename: "loss.png", length: png.length, alt_text: "loss curve" });
    expect(url.upload_url).toMatch(/\/upload\/v1\/F/);
    expect(await platformError(web.files.completeUploadExternal({ files: [{ id: url.file_id as string }] }))).toBe(
      "file_not_found",
    );
    const put = await fetch(url.upload_url as string, { method: "POST", body: png, headers: { "content-type": "image/png" } });
    expect(put.status).toBe(200);
    await web.files.completeUploadExternal({
      files: [{ id: url.file_id as string, title: "Loss curve" }],
      channel_id: ch,
      thread_ts: root,
      initial_comment: "the plot",
    });
    const shared = sandbox.thread(ch, root)[1];
    expect(shared).toMatchObject({ subtype: "file_share", text: "the plot", user: sandbox.bot.userId });
    expect(shared?.files?.[0]).toMatchObject({
      name: "loss.png",
      title: "Loss curve",
      mimetype: "image/png",
      alt_txt: "loss curve",
    });
    const served = await fetch(shared?.files?.[0]?.url_private as string);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(png);
    expect(await platformError(web.files.getUploadURLExternal({ filename: "big.png", length: 1001 }))).toBe(
      "file_upload_size_restricted",
    );
    expect(await platformError(web.files.getUploadURLExternal({ filename: "empty.png", length: 0 }))).toBe("missing_argument");
    expect(
      await platformError(web.files.completeUploadExternal({ files: [{ id: url.file_id as string }], channel_id: "C404" })),
    ).toBe("invalid_channel");
  });

  it("publishes a Home tab, checks plan and task_card blocks, and limits chat.postMessage per channel with a burst", async () => {
    await using sandbox = await startSlackSandbox({
      botToken: TOKEN,
      signingSecret: SECRET,
      channels: [
        { id: "C1", name: "one" },
        { id: "C2", name: "two" },
      ],
      rateLimits: { "chat.postMessage": { perSecond: 1, burst: 2, per: "channel" } },
    });
    const web = client(sandbox.apiUrl);
    await web.views.publish({
      user_id: "U0HUMAN",
      view: { type: "home", blocks: [{ type: "section", text: { type: "mrkdwn", text: "*Your tasks*" } }] },
    });
    expect(sandbox.home()?.blocks).toHaveLength(1);
    expect(await platformError(web.views.publish({ user_id: "U0HUMAN", view: { type: "modal", blocks: [] } as never }))).toBe(
      "invalid_arguments",
    );
    const plan = {
      type: "plan" as const,
      title: "Steps",
      tasks: [
        { type: "task_card" as const, task_id: "s1", title: "Clean", status: "complete" as const },
        { type: "task_card" as const, task_id: "s2", title: "Train", status: "in_progress" as const },
      ],
    };
    await web.chat.postMessage({ channel: "C1", text: "progress", blocks: [plan] });
    const bad = { ...plan, tasks: [{ type: "task_card", task_id: "s1", title: "x", status: "running" }] };
    expect(await platformError(web.chat.postMessage({ channel: "C1", text: "x", blocks: [bad as never] }))).toBe(
      "invalid_blocks",
    );
    // The first call used C1's second token; C1 is now empty, C2 is untouched.
    expect(await platformError(web.chat.postMessage({ channel: "C1", text: "3" }))).toBe(ErrorCode.RateLimitedError);
    await web.chat.postMessage({ channel: "C2", text: "other channel" });
  });

  it("delivers app_home_opened and the message shortcut with a trigger that opens a modal", async () => {
    const seen: Record<string, unknown>[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const form = new URLSearchParams(body);
        seen.push(JSON.parse(form.get("payload") ?? body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    try {
      await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: url });
      await sandbox.openHome();
      expect(seen[0]).toMatchObject({ type: "event_callback", event: { type: "app_home_opened", user: "U0HUMAN", tab: "home" } });
      const msg = await sandbox.mention("why is the loss flat?");
      seen.length = 0;
      await sandbox.shortcut(msg.ts, "mllead_ask");
      const action = seen[0] as { type: string; callback_id: string; trigger_id: string; message: { text: string } };
      expect(action).toMatchObject({ type: "message_action", callback_id: "mllead_ask", message: { ts: msg.ts } });
      expect(action.message.text).toContain("why is the loss flat?");
      const web = client(sandbox.apiUrl);
      await web.views.open({
        trigger_id: action.trigger_id,
        view: { type: "modal", title: { type: "plain_text", text: "Ask @mllead" }, blocks: [] },
      });
      expect(sandbox.openViews()).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("slack sandbox browser UI", () => {
  it("hands the page what it draws: shared images, the thread's status, streams in progress and the Home tab", async () => {
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET });
    const web = client(sandbox.apiUrl);
    const ch = sandbox.defaultChannel;
    const root = (await web.chat.postMessage({ channel: ch, text: "root" })).ts as string;
    await web.assistant.threads.setStatus({ channel_id: ch, thread_ts: root, status: "is writing a plan…" });
    const png = Buffer.from("89504e470d0a1a0a", "hex");
    const url = await web.files.getUploadURLExternal({ filename: "loss.png", length: png.length, alt_text: "loss" });
    const state = async () =>
      (await (await fetch(`${sandbox.url}/ui/state?channel=${ch}&thread=${root}`)).json()) as {
        status: string | null;
        thread: { files?: { url_private: string; alt_txt?: string }[] }[];
        streaming: string[];
        home: { blocks: unknown[] } | null;
      };
    expect((await state()).status).toBe("is writing a plan…");
    await fetch(url.upload_url as string, { method: "POST", body: png });
    await web.files.completeUploadExternal({
      files: [{ id: url.file_id as string, title: "loss" }],
      channel_id: ch,
      thread_ts: root,
    });
    const s1 = await state();
    const image = s1.thread[1]?.files?.[0];
    expect(image?.alt_txt).toBe("loss");
    expect((await fetch(image?.url_private as string)).headers.get("content-type")).toBe("image/png");
    const stream = await web.chat.startStream({
      channel: ch,
      thread_ts: root,
      markdown_text: "writing",
      recipient_user_id: "U1",
      recipient_team_id: sandbox.bot.teamId,
    });
    expect((await state()).streaming).toEqual([stream.ts]);
    await web.views.publish({ user_id: sandbox.humanUserId, view: { type: "home", blocks: [{ type: "divider" }] } });
    expect((await state()).home?.blocks).toHaveLength(1);
    const page = await (await fetch(sandbox.url)).text();
    for (const want of ["figure", "data-home", "data-ask", 'case "plan"', 'case "markdown"']) expect(page).toContain(want);
  });
});

describe("rate limiter", () => {
  it("refills a per-channel bucket at its rate and answers the seconds to wait", () => {
    const r = new RateLimiter({ m: { perSecond: 1, burst: 3, per: "channel" }, w: 2 });
    expect([r.take("m", "A", 0), r.take("m", "A", 0), r.take("m", "A", 0)]).toEqual([null, null, null]);
    expect(r.take("m", "A", 100)).toBe(1);
    expect(r.take("m", "B", 100)).toBeNull();
    expect(r.take("m", "A", 1100)).toBeNull();
    expect([r.take("w", "A", 0), r.take("w", "B", 0), r.take("w", "A", 30_000)]).toEqual([null, null, 30]);
  });
});
