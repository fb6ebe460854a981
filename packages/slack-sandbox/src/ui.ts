import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { SandboxCore } from "./core.js";
import type { Delivery } from "./delivery.js";
import type { SlackDriver } from "./driver.js";
import { UI_PAGE } from "./ui-page.js";

const Send = z.object({ channel: z.string().min(1), text: z.string().min(1).max(40_000), threadTs: z.string().optional() });
const Click = z.object({ channel: z.string().min(1), ts: z.string().min(1), actionId: z.string().min(1) });
const SubmitView = z.object({ viewId: z.string().min(1), values: z.record(z.string(), z.string().max(10_000)) });
const CancelView = z.object({ viewId: z.string().min(1) });
const React = z.object({ channel: z.string().min(1), ts: z.string().min(1), name: z.string().min(1) });
const Shortcut = z.object({ channel: z.string().min(1), ts: z.string().min(1), callbackId: z.string().min(1).max(255) });

/** A sentence a person can act on, from a failed delivery to the app. */
function explain(err: unknown, gatewayUrl: string | undefined): string {
  const why = err instanceof Error ? err.message : String(err);
  if (!gatewayUrl)
    return "Could not reach mllead: it holds no Socket Mode connection and has no Request URL. Is the slack-gateway running?";
  return `Could not reach mllead at ${gatewayUrl}: ${why}. Is the slack-gateway running?`;
}

function statusNote(out: Pick<Delivery, "status" | "via">): string | undefined {
  const { status } = out;
  if (status === 200) return undefined;
  if (out.via === "socket") {
    return status === 408
      ? "mllead did not acknowledge within 3 seconds over its Socket Mode connection."
      : "mllead's Socket Mode connection closed and it did not reconnect. Is the slack-gateway running?";
  }
  if (status === 401)
    return "mllead refused the request signature (401): the sandbox and the gateway use different signing secrets.";
  return `mllead answered HTTP ${status}.`;
}

/** What the UI needs besides the workspace: who the person is, and where the app is. */
interface UiOptions {
  humanUserId: string;
  gatewayUrl: () => string | undefined;
}

/** The UI's answer to an action: whether the app took it, or a sentence saying why not. */
type UiAnswer = { ok: boolean; error?: string | undefined };

/** The workspace as the page draws it: channels, messages, the open thread, Home, modals, the connection. */
function uiState(core: SandboxCore, opts: UiOptions, q: { channel?: string; thread?: string }) {
  const { store, socket } = core;
  const channels = store.listChannels();
  const channel = q.channel && store.channel(q.channel) ? q.channel : (channels[0]?.id ?? "");
  const conns = socket.connections().length;
  return {
    me: opts.humanUserId,
    bot: { userId: core.bot.userId },
    channels,
    channel,
    messages: store.history(channel),
    thread: q.thread ? store.thread(channel, q.thread) : [],
    status: q.thread ? (store.threadStatus.get(`${channel}/${q.thread}`) ?? null) : null,
    streaming: [...store.streams.keys()].filter((k) => k.startsWith(`${channel}/`)).map((k) => k.slice(channel.length + 1)),
    home: store.homes.get(opts.humanUserId) ?? null,
    ephemerals: store.ephemeralsFor(channel, opts.humanUserId),
    views: core.views.list(opts.humanUserId),
    connection: socket.active()
      ? `Socket Mode · ${conns} connection${conns === 1 ? "" : "s"}`
      : opts.gatewayUrl()
        ? "HTTP"
        : "not connected",
  };
}

/** What a person typed in the composer, sent as Slack would: a slash command, a mention, a reply or a message. */
async function send(core: SandboxCore, driver: SlackDriver, opts: UiOptions, input: z.infer<typeof Send>): Promise<UiAnswer> {
  const { channel, text, threadTs } = input;
  if (text.startsWith("/mllead")) {
    const out = await driver.slash(text.replace(/^\/mllead\s*/, ""), { channel });
    return { ok: out.status === 200, error: statusNote(out) ?? (out.text ? undefined : "mllead did not answer.") };
  }
  let out: Delivery;
  if (/@mllead\b/.test(text)) out = await driver.mention(text, { channel, ...(threadTs ? { threadTs } : {}) });
  else if (threadTs) out = await driver.reply(threadTs, text, { channel });
  else {
    const msg = core.store.add({ channel, user: opts.humanUserId, text });
    out = await driver.transport.event({ type: "message", channel, channel_type: "channel", user: msg.user, text, ts: msg.ts });
  }
  return { ok: out.status === 200, error: statusNote(out) };
}

/**
 * The browser UI: the page, its state feed, and actions that go through the same signed driver the
 * tests use. Each action's input is checked (a 400 with a sentence otherwise); a delivery that fails
 * becomes a sentence the page shows, never an error page.
 */
export function registerUi(app: FastifyInstance, core: SandboxCore, driver: SlackDriver, opts: UiOptions): void {
  const action = <S extends z.ZodType>(
    path: string,
    schema: S,
    refused: string,
    run: (input: z.infer<S>) => Promise<UiAnswer | Delivery | null>,
  ) => {
    app.post(path, async (req, reply: FastifyReply) => {
      const parsed = schema.safeParse(req.body ?? {});
      if (!parsed.success) return reply.code(400).send({ ok: false, error: refused });
      try {
        const out = await run(parsed.data);
        if (out === null) return { ok: true };
        return "status" in out ? { ok: out.status === 200, error: statusNote(out) } : out;
      } catch (err) {
        return { ok: false, error: explain(err, opts.gatewayUrl()) };
      }
    });
  };
  const viewOpen = (viewId: string) => core.views.get(viewId)?.open === true;

  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(UI_PAGE));
  app.get("/ui/state", async (req) => uiState(core, opts, req.query as { channel?: string; thread?: string }));
  action("/ui/send", Send, "Type a message first.", (i) => send(core, driver, opts, i));
  action("/ui/click", Click, "That button is not on a message.", (i) => driver.click(i.ts, i.actionId, { channel: i.channel }));
  action("/ui/react", React, "Pick a message to react to.", (i) => driver.react(i.ts, i.name, { channel: i.channel }));
  action("/ui/shortcut", Shortcut, "Pick a message first.", (i) => driver.shortcut(i.ts, i.callbackId, { channel: i.channel }));
  action("/ui/home", z.unknown(), "", () => driver.openHome());
  // The app's inline errors, if any, come back with the next state and show under the inputs.
  action(
    "/ui/view/submit",
    SubmitView.refine((i) => viewOpen(i.viewId)),
    "That box is no longer open.",
    (i) => driver.submitView(i.viewId, i.values),
  );
  action(
    "/ui/view/cancel",
    CancelView.refine((i) => core.views.get(i.viewId) !== undefined),
    "No such box.",
    (i) => driver.cancelView(i.viewId),
  );
}
