import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SandboxCore } from "./core.js";

/**
 * `POST /response/<id>`: the `response_url` of interactions and slash commands. Like Slack,
 * an answer is ephemeral by default, `in_channel` posts it, and `replace_original` edits the clicked message.
 */
export function registerResponseUrls(app: FastifyInstance, core: SandboxCore): void {
  app.post("/response/:id", async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const target = core.responseTargets.get(req.params.id);
    if (!target) return reply.code(404).send({ ok: false, error: "expired_url" });
    const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;
    core.responses.push({ id: req.params.id, target, body });
    const text = typeof body.text === "string" ? body.text : "";
    const blocks = Array.isArray(body.blocks) ? body.blocks : undefined;
    const original = target.messageTs ? core.store.find(target.channel, target.messageTs) : undefined;
    if ((body.replace_original === true || body.replace_original === "true") && original) {
      original.text = text;
      if (blocks) original.blocks = blocks;
    } else if (body.response_type === "in_channel") {
      core.store.add({
        channel: target.channel,
        user: core.bot.userId,
        bot_id: core.bot.botId,
        text,
        ...(blocks ? { blocks } : {}),
        ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
      });
    } else {
      core.store.ephemerals.push({
        channel: target.channel,
        user: target.user,
        ts: core.store.clock.next(),
        text,
        ...(blocks ? { blocks } : {}),
        ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
      });
    }
    return { ok: true };
  });
}
