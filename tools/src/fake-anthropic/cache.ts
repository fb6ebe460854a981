import { createHash } from "node:crypto";
import { invalid } from "./errors.js";
import type { Block, CacheControl, MessageParam, RequestBody, ToolDef } from "./types.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON with sorted keys and without `cache_control`: a marker does not change the content it marks. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (!isObject(value)) return JSON.stringify(value) ?? "null";
  const keys = Object.keys(value)
    .filter((k) => k !== "cache_control" && value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

/**
 * The fake's deterministic token estimate: a text block counts ceil(characters / 4) of its text, any other
 * block or tool ceil(characters / 4) of its canonical JSON. A 2,000-token prompt is 8,000 characters of text.
 */
export function tokensOf(block: unknown): number {
  if (isObject(block) && block.type === "text" && typeof block.text === "string") return Math.ceil(block.text.length / 4);
  return Math.ceil(canonical(block).length / 4);
}

/** `content` as blocks: a string is one text block. */
export function blocksOf(content: string | Block[]): Block[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content;
}

/** The system prompt as blocks. */
export function systemBlocks(system: RequestBody["system"]): Block[] {
  if (system === undefined) return [];
  return typeof system === "string" ? [{ type: "text", text: system }] : (system as Block[]);
}

/** The `cache_control` of a block, or of a block nested in a `tool_result`, which marks the result itself. */
function markerOf(block: Record<string, unknown>): CacheControl | undefined {
  if (isObject(block.cache_control)) return block.cache_control as unknown as CacheControl;
  if (block.type === "tool_result" && Array.isArray(block.content)) {
    const nested = block.content.filter(isObject).findLast((b) => isObject(b.cache_control));
    return nested?.cache_control as CacheControl | undefined;
  }
  return undefined;
}

/** One block of the prompt in cache order: its tokens and hash are those of the whole prefix ending with it. */
interface Segment {
  tokens: number;
  hash: string;
  ttl?: "5m" | "1h";
}

/** Blocks that cannot carry a breakpoint: automatic caching puts it on the last block before them. */
const UNCACHEABLE = new Set(["thinking", "redacted_thinking"]);

/**
 * The prompt as the cache sees it, in the API's order: tools, then system, then messages, block by block.
 * `auto` is the request's top-level `cache_control`: a breakpoint on the last cacheable block (a no-op where
 * that block has its own marker), which moves forward as the conversation grows.
 */
export function segments(
  model: string,
  tools: ToolDef[],
  system: Block[],
  messages: MessageParam[],
  auto?: CacheControl | null,
): Segment[] {
  let hash = createHash("sha256").update(model).digest("hex");
  let tokens = 0;
  const out: Segment[] = [];
  let lastCacheable = -1;
  const push = (kind: string, block: Record<string, unknown>) => {
    tokens += tokensOf(block);
    hash = createHash("sha256").update(hash).update(kind).update(canonical(block)).digest("hex");
    const marker = markerOf(block);
    if (!UNCACHEABLE.has(String(block.type))) lastCacheable = out.length;
    out.push({ tokens, hash, ...(marker ? { ttl: marker.ttl === "1h" ? "1h" : "5m" } : {}) });
  };
  for (const tool of tools) push("tool", tool);
  for (const block of system) push("system", block);
  for (const message of messages) {
    blocksOf(message.content).forEach((block, j) => {
      push(j === 0 ? `message:${message.role}` : message.role, block);
    });
  }
  const last = out[lastCacheable];
  if (auto && last && !last.ttl) last.ttl = auto.ttl === "1h" ? "1h" : "5m";
  return out;
}

/** Cache use of one request, in tokens; `input` is the uncached rest. */
export interface CacheUse {
  read: number;
  write5m: number;
  write1h: number;
  input: number;
}

/** How far back from a breakpoint the API looks for an earlier cache entry, in blocks. */
const LOOKBACK_BLOCKS = 20;

const TTL_MS = { "5m": 5 * 60_000, "1h": 60 * 60_000 } as const;

/**
 * The prompt cache: prefixes written at `cache_control` breakpoints, keyed by model and exact content, each
 * alive for its TTL (5 minutes, or 1 hour) from when it was last written or read. A request reads the longest
 * live prefix that ends at one of its breakpoints or up to 20 blocks before one, and writes each later
 * breakpoint whose prefix reaches the model's minimum.
 */
export class PromptCache {
  #stored = new Map<string, { expires: number; ttl: "5m" | "1h" }>();
  constructor(private readonly now: () => number = Date.now) {}

  #alive(hash: string, at: number): boolean {
    const entry = this.#stored.get(hash);
    if (entry && entry.expires <= at) this.#stored.delete(hash);
    return entry !== undefined && entry.expires > at;
  }

  account(prompt: Segment[], minTokens: number): CacheUse {
    const at = this.now();
    const total = prompt.at(-1)?.tokens ?? 0;
    const breakpoints = prompt.flatMap((s, i) => (s.ttl ? [i] : []));
    let read = 0;
    let readAt = -1;
    for (const bp of breakpoints) {
      for (let i = bp; i >= Math.max(0, bp - LOOKBACK_BLOCKS + 1); i--) {
        const s = prompt[i] as Segment;
        if (!this.#alive(s.hash, at)) continue;
        if (s.tokens > read) [read, readAt] = [s.tokens, i];
        break;
      }
    }
    // A read refreshes the entry it read: its TTL starts again.
    const hit = prompt[readAt];
    const entry = hit ? this.#stored.get(hit.hash) : undefined;
    if (entry) entry.expires = at + TTL_MS[entry.ttl];
    const use: CacheUse = { read, write5m: 0, write1h: 0, input: 0 };
    let cached = read;
    for (const bp of breakpoints) {
      const s = prompt[bp] as Segment;
      const ttl = s.ttl ?? "5m";
      if (bp <= readAt || s.tokens < minTokens) continue;
      if (ttl === "1h") use.write1h += s.tokens - cached;
      else use.write5m += s.tokens - cached;
      cached = s.tokens;
      this.#stored.set(s.hash, { expires: at + TTL_MS[ttl], ttl });
    }
    use.input = total - cached;
    return use;
  }

  clear(): void {
    this.#stored.clear();
  }
}

/**
 * Checks the `cache_control` markers a request sends: their shape, at most 4 of them, and no 1-hour entry after
 * a 5-minute one (the API's rules, in its order: tools, system, messages).
 */
export function checkCacheControl(body: RequestBody): void {
  const found: { where: string; marker: unknown }[] = [];
  const visit = (where: string, block: unknown) => {
    if (!isObject(block)) return;
    if (block.cache_control !== undefined && block.cache_control !== null) {
      found.push({ where, marker: block.cache_control });
    }
    if (block.type === "tool_result" && Array.isArray(block.content)) {
      block.content.forEach((b, k) => {
        visit(`${where}.content.${k}`, b);
      });
    }
  };
  (body.tools ?? []).forEach((t, i) => {
    visit(`tools.${i}`, t);
  });
  if (Array.isArray(body.system))
    body.system.forEach((b, i) => {
      visit(`system.${i}`, b);
    });
  body.messages.forEach((m, i) => {
    if (Array.isArray(m.content))
      m.content.forEach((b, j) => {
        visit(`messages.${i}.content.${j}`, b);
      });
  });
  // Top-level caching marks the last block; it takes a slot of its own unless that block has its marker already.
  const lastMessage = body.messages.at(-1);
  const lastBlock = Array.isArray(lastMessage?.content) ? lastMessage.content.at(-1) : undefined;
  if (body.cache_control !== undefined && body.cache_control !== null) {
    if (!isObject(lastBlock) || lastBlock.cache_control === undefined || lastBlock.cache_control === null) {
      found.push({ where: "", marker: body.cache_control });
    }
  }
  let sawShort = false;
  for (const { where, marker } of found) {
    if (!isObject(marker) || marker.type !== "ephemeral") {
      throw invalid(`${where && `${where}.`}cache_control.type: Input should be 'ephemeral'`);
    }
    if (marker.ttl !== undefined && marker.ttl !== "5m" && marker.ttl !== "1h") {
      throw invalid(`${where && `${where}.`}cache_control.ttl: Input should be '5m' or '1h'`);
    }
    if (marker.ttl === "1h" && sawShort) {
      throw invalid(
        "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. " +
          "Note that blocks are processed in the following order: `tools`, `system`, `messages`.",
      );
    }
    if (marker.ttl !== "1h") sawShort = true;
  }
  if (found.length > 4) {
    throw invalid(`A maximum of 4 blocks with cache_control may be provided. Found ${found.length}.`);
  }
}
