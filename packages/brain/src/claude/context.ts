import type { BetaMessageParam } from "@anthropic-ai/sdk/resources/beta/messages/messages";

/** The tool results kept whole when older ones are cleared. */
const KEEP_RECENT = 6;
const CLEARED = "[output cleared to keep the conversation small; run the tool again if you need it]";

/** What an image in a tool result counts for: the API bills one at most ~1,600 tokens, whatever its base64 size. */
const IMAGE_CHARS = 1600 * 4;

function resultChars(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return JSON.stringify(content ?? "").length;
  return content.reduce<number>(
    (n, b: { type?: unknown }) => n + (b?.type === "image" ? IMAGE_CHARS : JSON.stringify(b).length),
    0,
  );
}

/**
 * When the conversation's tool results pass `maxChars`, replaces all but the
 * most recent few with a short note (the calls themselves stay, so the model
 * knows what it did). Returns null when nothing needs clearing. Clearing is
 * rare and in bulk, because every change to old messages costs the prompt cache.
 */
export function clearOldToolResults(
  messages: readonly BetaMessageParam[],
  maxChars: number,
): { messages: BetaMessageParam[]; count: number } | null {
  const positions: { m: number; b: number; chars: number }[] = [];
  messages.forEach((msg, m) => {
    if (msg.role !== "user" || typeof msg.content === "string") return;
    // (user messages always carry content; the guard narrows the union)
    msg.content.forEach((block, b) => {
      if (block.type === "tool_result" && block.content !== CLEARED) positions.push({ m, b, chars: resultChars(block.content) });
    });
  });
  const total = positions.reduce((n, p) => n + p.chars, 0);
  if (total <= maxChars || positions.length <= KEEP_RECENT) return null;
  const clear = positions.slice(0, positions.length - KEEP_RECENT);
  const out = [...messages];
  for (const p of clear) {
    const msg = out[p.m];
    if (msg?.role !== "user" || typeof msg.content === "string") continue;
    const content = [...msg.content];
    const block = content[p.b];
    if (block?.type === "tool_result") content[p.b] = { ...block, content: CLEARED };
    out[p.m] = { ...msg, content };
  }
  return { messages: out, count: clear.length };
}
