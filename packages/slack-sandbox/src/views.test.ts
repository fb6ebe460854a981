import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCode, LogLevel, WebClient } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import { type SlackSandbox, startSlackSandbox } from "./index.js";

const TOKEN = "xoxb-test-token";
const SECRET = "test-signing-secret";

/** A stand-in app: records each interaction payload and answers with what `answer` returns. */
async function interactiveApp(answer: (payload: Record<string, unknown>) => unknown = () => undefined) {
  const payloads: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const raw = new URLSearchParams(body).get("payload");
      const payload = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      payloads.push(payload);
      const out = answer(payload);
      res.writeHead(200, out === undefined ? {} : { "content-type": "application/json" });
      res.end(out === undefined ? "" : JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  return { payloads, url, [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())) };
}

async function slackError(p: Promise<unknown>): Promise<{ error: string; messages: string[] }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; data?: { error?: string; response_metadata?: { messages?: string[] } } };
    if (e.code === ErrorCode.PlatformError)
      return { error: e.data?.error ?? "", messages: e.data?.response_metadata?.messages ?? [] };
    return { error: e.code ?? "unknown", messages: [] };
  }
  return { error: "no error", messages: [] };
}

/** The real client, with its log of Slack's error messages silenced (the tests read them instead). */
function client(apiUrl: string): WebClient {
  const quiet = () => undefined;
  const logger = {
    debug: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
    setLevel: quiet,
    setName: quiet,
    getLevel: () => LogLevel.ERROR,
  };
  return new WebClient(TOKEN, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, logger });
}

const modal = (over: Record<string, unknown> = {}) => ({
  type: "modal" as const,
  callback_id: "ask",
  private_metadata: '{"t":"task-1"}',
  title: { type: "plain_text" as const, text: "Request changes" },
  submit: { type: "plain_text" as const, text: "Send" },
  close: { type: "plain_text" as const, text: "Cancel" },
  blocks: [
    {
      type: "input",
      block_id: "changes",
      label: { type: "plain_text", text: "What should change?" },
      element: { type: "plain_text_input", action_id: "feedback", multiline: true, max_length: 3000 },
    },
  ],
  ...over,
});

/** Posts a message with a button and clicks it; returns the trigger id Slack handed the app. */
async function clickForTrigger(sandbox: SlackSandbox, web: WebClient, payloads: Record<string, unknown>[]): Promise<string> {
  const msg = await web.chat.postMessage({
    channel: sandbox.defaultChannel,
    text: "plan",
    blocks: [{ type: "actions", elements: [{ type: "button", action_id: "go", text: { type: "plain_text", text: "Go" } }] }],
  });
  await sandbox.click(msg.ts as string, "go");
  const trigger = payloads.at(-1)?.trigger_id;
  if (typeof trigger !== "string") throw new Error("the click carried no trigger_id");
  return trigger;
}

describe("slack sandbox: views.open and modal submissions", () => {
  it("opens a modal only with a fresh, unused trigger from a click, and checks the view like Slack", async () => {
    await using app = await interactiveApp();
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: app.url });
    const web = client(sandbox.apiUrl);

    expect((await slackError(web.views.open({ trigger_id: "12345.98765.abcd", view: modal() }))).error).toBe(
      "invalid_trigger_id",
    );
    const trigger = await clickForTrigger(sandbox, web, app.payloads);

    const longTitle = await slackError(
      web.views.open({ trigger_id: trigger, view: modal({ title: { type: "plain_text", text: "x".repeat(25) } }) }),
    );
    expect(longTitle.error).toBe("invalid_arguments");
    expect(longTitle.messages.join()).toContain("[json-pointer:/view/title/text]");
    const tooMany = Array.from({ length: 101 }, () => ({ type: "divider" }));
    expect((await slackError(web.views.open({ trigger_id: trigger, view: modal({ blocks: tooMany }) }))).error).toBe(
      "invalid_arguments",
    );
    const notModal = await slackError(web.views.open({ trigger_id: trigger, view: { ...modal(), type: "home" } as never }));
    expect(notModal.messages.join()).toContain("[json-pointer:/view/type]");
    const noSubmit = await slackError(web.views.open({ trigger_id: trigger, view: modal({ submit: undefined }) }));
    expect(noSubmit.messages.join()).toContain("submit is required");
    expect(sandbox.openViews()).toEqual([]);

    // A bad view does not use the trigger up; a good one does.
    const opened = await web.views.open({ trigger_id: trigger, view: modal() });
    expect(opened.view).toMatchObject({
      id: expect.stringMatching(/^V/),
      type: "modal",
      callback_id: "ask",
      state: { values: {} },
    });
    expect(sandbox.openViews(sandbox.humanUserId).map((v) => v.id)).toEqual([opened.view?.id]);
    expect((await slackError(web.views.open({ trigger_id: trigger, view: modal() }))).error).toBe("exchanged_trigger_id");

    sandbox.setTriggerTtl(0);
    const stale = await clickForTrigger(sandbox, web, app.payloads);
    expect((await slackError(web.views.open({ trigger_id: stale, view: modal() }))).error).toBe("expired_trigger_id");
    expect(sandbox.openViews()).toHaveLength(1);
  });

  it("submits what was typed as a signed view_submission: errors keep the modal open, an empty ack closes it", async () => {
    let answer: unknown = { response_action: "errors", errors: { changes: "Say what should change." } };
    await using app = await interactiveApp((p) => (p.type === "view_submission" ? answer : undefined));
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: app.url });
    const web = client(sandbox.apiUrl);
    const trigger = await clickForTrigger(sandbox, web, app.payloads);
    const id = (await web.views.open({ trigger_id: trigger, view: modal() })).view?.id as string;

    const refused = await sandbox.submitView(id, {});
    expect(refused).toMatchObject({ status: 200, json: answer });
    expect(app.payloads.at(-1)).toMatchObject({
      type: "view_submission",
      user: { id: sandbox.humanUserId },
      view: {
        id,
        callback_id: "ask",
        private_metadata: '{"t":"task-1"}',
        state: { values: { changes: { feedback: { type: "plain_text_input", value: null } } } },
      },
    });
    expect(sandbox.openViews()[0]?.errors).toEqual({ changes: "Say what should change." });

    // The browser UI shows the open modal and submits through the same driver.
    const state = (await (await fetch(`${sandbox.url}/ui/state`)).json()) as { views: { id: string }[] };
    expect(state.views.map((v) => v.id)).toEqual([id]);
    answer = undefined;
    const ui = await fetch(`${sandbox.url}/ui/view/submit`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ viewId: id, values: { feedback: "use AUC" } }),
    });
    expect(await ui.json()).toEqual({ ok: true });
    expect(app.payloads.at(-1)).toMatchObject({ view: { state: { values: { changes: { feedback: { value: "use AUC" } } } } } });
    expect(sandbox.openViews()).toEqual([]);
    await expect(sandbox.submitView(id, { nope: "x" })).rejects.toThrow("has no input 'nope'");
  });

  it("a person's Cancel closes the modal without telling an app that did not ask", async () => {
    await using app = await interactiveApp();
    await using sandbox = await startSlackSandbox({ botToken: TOKEN, signingSecret: SECRET, gatewayUrl: app.url });
    const web = client(sandbox.apiUrl);
    const trigger = await clickForTrigger(sandbox, web, app.payloads);
    const id = (await web.views.open({ trigger_id: trigger, view: modal() })).view?.id as string;
    const sentBefore = app.payloads.length;
    const res = await fetch(`${sandbox.url}/ui/view/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ viewId: id }),
    });
    expect(await res.json()).toEqual({ ok: true });
    expect(sandbox.openViews()).toEqual([]);
    expect(app.payloads).toHaveLength(sentBefore);
  });
});
