import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { SandboxCore } from "./core.js";
import type { Delivery, SlackDriver } from "./driver.js";
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

/** The browser UI: the page, its state feed, and actions that go through the same signed driver the tests use. */
export function registerUi(
  app: FastifyInstance,
  core: SandboxCore,
  driver: SlackDriver,
  opts: { humanUserId: string; gatewayUrl: () => string | undefined },
): void {
  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(UI_PAGE));

  app.get("/ui/state", async (req) => {
    const q = req.query as { channel?: string; thread?: string; home?: string };
    const channels = core.store.listChannels();
    const channel = q.channel && core.store.channel(q.channel) ? q.channel : (channels[0]?.id ?? "");
    return {
      me: opts.humanUserId,
      bot: { userId: core.bot.userId },
      channels,
      channel,
      messages: core.store.history(channel),
      thread: q.thread ? core.store.thread(channel, q.thread) : [],
      status: q.thread ? (core.store.threadStatus.get(`${channel}/${q.thread}`) ?? null) : null,
      streaming: [...core.store.streams.keys()]
        .filter((k) => k.startsWith(`${channel}/`))
        .map((k) => k.slice(channel.length + 1)),
      home: core.store.homes.get(opts.humanUserId) ?? null,
      ephemerals: core.store.ephemeralsFor(channel, opts.humanUserId),
      views: core.views.list(opts.humanUserId),
      connection: core.socket.active()
        ? `Socket Mode · ${core.socket.connections().length} connection${core.socket.connections().length === 1 ? "" : "s"}`
        : opts.gatewayUrl()
          ? "HTTP"
          : "not connected",
    };
  });

  app.post("/ui/send", async (req, reply) => {
    const parsed = Send.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ ok: false, error: "Type a message first." });
    const { channel, text, threadTs } = parsed.data;
    try {
      if (text.startsWith("/mllead")) {
        const out = await driver.slash(text.replace(/^\/mllead\s*/, ""), { channel });
        return { ok: out.status === 200, error: statusNote(out) ?? (out.text ? undefined : "mllead did not answer.") };
      }
      if (/@mllead\b/.test(text)) {
        const out = await driver.mention(text, { channel, ...(threadTs ? { threadTs } : {}) });
        return { ok: out.status === 200, error: statusNote(out) };
      }
      if (threadTs) {
        const out = await driver.reply(threadTs, text, { channel });
        return { ok: out.status === 200, error: statusNote(out) };
      }
      const msg = core.store.add({ channel, user: opts.humanUserId, text });
      const out = await driver.event({ type: "message", channel, channel_type: "channel", user: msg.user, text, ts: msg.ts });
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/click", async (req, reply) => {
    const parsed = Click.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ ok: false, error: "That button is not on a message." });
    try {
      const out = await driver.click(parsed.data.ts, parsed.data.actionId, { channel: parsed.data.channel });
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/react", async (req, reply) => {
    const parsed = React.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ ok: false, error: "Pick a message to react to." });
    try {
      const out = await driver.react(parsed.data.ts, parsed.data.name, { channel: parsed.data.channel });
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/shortcut", async (req, reply) => {
    const parsed = Shortcut.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ ok: false, error: "Pick a message first." });
    try {
      const out = await driver.shortcut(parsed.data.ts, parsed.data.callbackId, { channel: parsed.data.channel });
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/home", async () => {
    try {
      const out = await driver.openHome();
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/view/submit", async (req, reply) => {
    const parsed = SubmitView.safeParse(req.body);
    if (!parsed.success || !core.views.get(parsed.data.viewId)?.open) {
      return reply.code(400).send({ ok: false, error: "That box is no longer open." });
    }
    try {
      // The app's inline errors, if any, come back with the next state and show under the inputs.
      const out = await driver.submitView(parsed.data.viewId, parsed.data.values);
      return { ok: out.status === 200, error: statusNote(out) };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });

  app.post("/ui/view/cancel", async (req, reply) => {
    const parsed = CancelView.safeParse(req.body);
    if (!parsed.success || !core.views.get(parsed.data.viewId)) return reply.code(400).send({ ok: false, error: "No such box." });
    try {
      const out = await driver.cancelView(parsed.data.viewId);
      return { ok: !out || out.status === 200, error: out ? statusNote(out) : undefined };
    } catch (err) {
      return { ok: false, error: explain(err, opts.gatewayUrl()) };
    }
  });
}
