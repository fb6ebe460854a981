import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import mime from "mime-types";
import { type Args, jsonArg, type Method, required, str } from "./api-args.js";
import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";
import type { SandboxFile } from "./store.js";

/** Slack's ceiling for an upload's `alt_txt`. */
const MAX_ALT_TXT = 1000;

function filetype(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? "";
  return ext || "binary";
}

/**
 * Slack's two-step upload: `files.getUploadURLExternal` hands out a URL and a file id for a
 * declared length, the bytes are POSTed there, and `files.completeUploadExternal` shares the files
 * in a channel or thread, with an optional `initial_comment`. The share is a `file_share` message
 * from the bot user. A length over the workspace's upload ceiling is `file_upload_size_restricted`.
 */
export function fileMethods(core: SandboxCore): Record<string, Method> {
  const { store, bot } = core;
  return {
    "files.getUploadURLExternal": (args) => {
      const filename = required(args, "filename");
      const length = Number(str(args, "length") ?? 0);
      if (!Number.isInteger(length) || length <= 0) throw new ApiError("missing_argument");
      const alt = str(args, "alt_txt") ?? str(args, "alt_text");
      if (alt !== undefined && alt.length > MAX_ALT_TXT) throw new ApiError("alt_txt_too_large");
      if (length > core.maxUploadBytes) throw new ApiError("file_upload_size_restricted");
      const id = `F${randomBytes(5).toString("hex").toUpperCase()}`;
      store.uploads.set(id, { id, filename, length, completed: false, ...(alt !== undefined ? { altText: alt } : {}) });
      return { ok: true, upload_url: `${core.baseUrl()}/upload/v1/${id}`, file_id: id };
    },
    "files.completeUploadExternal": (args) => {
      const files = jsonArg(args.files);
      if (!Array.isArray(files) || files.length === 0)
        throw new ApiError("invalid_arguments", { detail: "files must be a non-empty array" });
      const channelArg = str(args, "channel_id") ?? str(args, "channels");
      const channel = channelArg ? store.channel(channelArg)?.id : undefined;
      if (channelArg && !channel) throw new ApiError("invalid_channel");
      const done: SandboxFile[] = [];
      for (const f of files as { id?: unknown; title?: unknown }[]) {
        const up = typeof f?.id === "string" ? store.uploads.get(f.id) : undefined;
        if (!up?.bytes || up.completed) throw new ApiError("file_not_found");
        done.push({
          id: up.id,
          name: up.filename,
          title: typeof f.title === "string" && f.title ? f.title : up.filename,
          mimetype: mime.lookup(up.filename) || "application/octet-stream",
          filetype: filetype(up.filename),
          size: up.bytes.length,
          ...(up.altText !== undefined ? { alt_txt: up.altText } : {}),
          url_private: `${core.baseUrl()}/files/${up.id}/${encodeURIComponent(up.filename)}`,
          user: bot.userId,
          created: Math.floor(Date.now() / 1000),
        });
      }
      for (const f of done) {
        const up = store.uploads.get(f.id);
        if (!up?.bytes) continue;
        up.completed = true;
        store.files.set(f.id, { ...f, bytes: up.bytes });
      }
      if (channel) {
        const threadTs = str(args, "thread_ts");
        store.add({
          channel,
          user: bot.userId,
          subtype: "file_share",
          upload: true,
          display_as_bot: false,
          text: str(args, "initial_comment") ?? "",
          files: done,
          ...(threadTs ? { thread_ts: threadTs } : {}),
        });
      }
      return { ok: true, files: done.map((f) => ({ id: f.id, title: f.title })) };
    },
    "files.info": (args: Args) => {
      const f = store.files.get(required(args, "file"));
      if (!f) throw new ApiError("file_not_found");
      const { bytes: _b, ...file } = f;
      return { ok: true, file };
    },
  };
}

/** The upload URLs (`POST /upload/v1/<file id>`, raw bytes) and the file downloads the UI shows images from. */
export function registerFileRoutes(app: FastifyInstance, core: SandboxCore): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: core.maxUploadBytes + 1024 }, (_req, body, done) =>
      done(null, body),
    );
    scope.post("/upload/v1/:id", async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const up = core.store.uploads.get(req.params.id);
      if (!up || up.completed) return reply.code(404).type("text/plain").send("upload not found");
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) return reply.code(400).type("text/plain").send("empty upload");
      if (body.length > core.maxUploadBytes) return reply.code(413).type("text/plain").send("file too large");
      up.bytes = body;
      return reply.code(200).type("text/plain").send(`OK - ${body.length}`);
    });
  });
  app.get("/files/:id/:name", async (req: FastifyRequest<{ Params: { id: string; name: string } }>, reply) => {
    const f = core.store.files.get(req.params.id);
    if (!f) return reply.code(404).send({ ok: false, error: "file_not_found" });
    return reply.type(f.mimetype).send(f.bytes);
  });
}
