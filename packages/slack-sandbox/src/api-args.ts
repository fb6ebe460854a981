import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";
import { blockProblems, SLACK_LIMITS } from "./limits.js";
import type { SandboxMessage } from "./store.js";

/** A Web API call's arguments (form fields or JSON), token removed. */
export type Args = Record<string, unknown>;
/** A Web API answer. */
export type Result = Record<string, unknown> & { ok: boolean; error?: string };
/** One Web API method of the sandbox. */
export type Method = (args: Args) => Result | Promise<Result>;

/** Form fields arrive as strings: WebClient JSON-encodes arrays and objects (blocks, metadata). */
export function jsonArg(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new ApiError("invalid_arguments", { detail: "a JSON field could not be parsed" });
  }
}

export function str(args: Args, name: string): string | undefined {
  const v = args[name];
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

export function required(args: Args, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new ApiError("invalid_arguments", { detail: `missing required field: ${name}` });
  return v;
}

export function truthy(v: unknown): boolean {
  return v === true || v === "true" || v === "1" || v === 1;
}

export function resolveChannel(core: SandboxCore, args: Args): string {
  const raw = str(args, "channel");
  if (!raw) throw new ApiError("channel_not_found");
  const byId = core.store.channel(raw);
  if (byId) return byId.id;
  const name = raw.replace(/^#/, "");
  const byName = core.store.listChannels().find((c) => c.name === name);
  if (!byName) throw new ApiError("channel_not_found");
  return byName.id;
}

/** Validates what a message may contain: text size, Block Kit limits and metadata shape. */
export function messageContent(args: Args, requireContent: boolean): Pick<SandboxMessage, "text" | "blocks" | "metadata"> {
  const text = str(args, "text") ?? "";
  const blocks = args.blocks === undefined ? undefined : jsonArg(args.blocks);
  if (requireContent && !text && (!Array.isArray(blocks) || blocks.length === 0)) throw new ApiError("no_text");
  if (text.length > SLACK_LIMITS.maxTextChars) throw new ApiError("msg_too_long");
  if (blocks !== undefined) {
    const problems = blockProblems(blocks);
    if (problems.length > 0) throw new ApiError("invalid_blocks", { errors: problems });
  }
  const out: Pick<SandboxMessage, "text" | "blocks" | "metadata"> = { text };
  if (Array.isArray(blocks)) out.blocks = blocks;
  if (args.metadata !== undefined) {
    const md = jsonArg(args.metadata) as { event_type?: unknown; event_payload?: unknown } | null;
    if (
      !md ||
      typeof md.event_type !== "string" ||
      !/^[a-zA-Z0-9_]+$/.test(md.event_type) ||
      typeof md.event_payload !== "object" ||
      md.event_payload === null
    ) {
      throw new ApiError("invalid_metadata_format");
    }
    out.metadata = { event_type: md.event_type, event_payload: md.event_payload as Record<string, unknown> };
  }
  return out;
}

export function withoutMetadata(m: SandboxMessage): SandboxMessage {
  const { metadata: _dropped, ...rest } = m;
  return rest;
}
