import type { BrainKind } from "@mllead/contracts";
import type { types } from "@slack/bolt";

type KnownBlock = types.KnownBlock;

/** Block Kit limits the renderers stay inside. */
export const BLOCK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  contextElements: 10,
  contextText: 2000,
  buttonText: 75,
  fallbackText: 3000,
} as const;

/** The line every message produced by the offline brain carries. */
export const OFFLINE_NOTE =
  ":robot_face: _offline brain — no Claude key set; this was produced by mllead's deterministic planner_";

/** Cuts `text` to `max` characters, ending with "…" when it had to cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Escapes the three characters Slack treats as control sequences (`<!channel>`, `<@U…>`,
 * `<https://…|label>`), so text from people, models and jobs can neither broadcast, mention nor
 * disguise a link. Used on every such text, in blocks and in the fallback `text`.
 */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `<@U123>` for a well-formed Slack user id; anything else is shown escaped, never as a control sequence. */
export function mention(userId: string): string {
  return /^[UW][A-Z0-9]{1,30}$/.test(userId) ? `<@${userId}>` : `\`${esc(userId.slice(0, 40))}\``;
}

/** A mrkdwn section, cut to 3000 characters. */
export function section(text: string): KnownBlock {
  return { type: "section", text: { type: "mrkdwn", text: truncate(text, BLOCK_LIMITS.sectionText) } };
}

/** A plain-text header, cut to 150 characters. */
export function header(text: string): KnownBlock {
  return { type: "header", text: { type: "plain_text", text: truncate(text, BLOCK_LIMITS.headerText), emoji: true } };
}

/** A context line of up to 10 mrkdwn elements. */
export function context(...texts: string[]): KnownBlock {
  return {
    type: "context",
    elements: texts
      .slice(0, BLOCK_LIMITS.contextElements)
      .map((t) => ({ type: "mrkdwn" as const, text: truncate(t, BLOCK_LIMITS.contextText) })),
  };
}

/** A horizontal rule. */
export const divider: KnownBlock = { type: "divider" };

/** Long text split over several sections at paragraph or line breaks, each within the section limit. */
export function sections(text: string, max = BLOCK_LIMITS.sectionText - 100): KnownBlock[] {
  const out: KnownBlock[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = Math.max(rest.lastIndexOf("\n\n", max), rest.lastIndexOf("\n", max), Math.floor(max / 2));
    out.push(section(rest.slice(0, cut)));
    rest = rest.slice(cut).replace(/^\n+/, "");
  }
  if (rest) out.push(section(rest));
  return out;
}

/** Adds the offline label when the offline brain produced the content. */
export function withBrain(blocks: KnownBlock[], brain: BrainKind | undefined): KnownBlock[] {
  return brain === "offline" ? [...blocks, context(OFFLINE_NOTE)] : blocks;
}

/**
 * Keeps a message within 50 blocks (a modal or Home tab: `max` 100): the trailing actions/context
 * blocks (buttons, labels) are kept, and a note says how many sections in the middle were left out.
 */
export function fitBlocks(blocks: KnownBlock[], max: number = BLOCK_LIMITS.blocks): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  let tailStart = blocks.length;
  while (tailStart > 0 && ["actions", "context"].includes(blocks[tailStart - 1]?.type ?? "")) tailStart--;
  const tail = blocks.slice(tailStart).slice(-10);
  const room = max - tail.length - 1;
  const hidden = blocks.length - tail.length - room;
  return [...blocks.slice(0, room), context(`_…${hidden} more blocks left out: Slack shows at most ${max} here._`), ...tail];
}

/** Fallback text (notifications, screen readers): short, and escaped like every other text that reaches Slack. */
export function fallback(text: string): string {
  return esc(truncate(text, BLOCK_LIMITS.fallbackText - 200));
}

/**
 * The message as text only, for when Slack refuses its blocks: every section, header and context
 * line joined (already escaped mrkdwn), cut to Slack's text ceiling.
 */
export function textOnly(blocks: readonly KnownBlock[] | undefined, fallbackText: string): string {
  const lines: string[] = [];
  for (const b of blocks ?? []) {
    if (b.type === "section" && b.text) lines.push(b.text.text);
    else if (b.type === "header") lines.push(`*${b.text.text}*`);
    else if (b.type === "context") lines.push(b.elements.map((e) => ("text" in e ? e.text : "")).join(" · "));
    else if (b.type === "markdown") lines.push(b.text);
    else if (b.type === "plan")
      lines.push(`*${b.title}*`, ...(b.tasks ?? []).map((t) => `• ${String((t as { title?: unknown }).title ?? "")}`));
  }
  const text = lines.filter(Boolean).join("\n");
  return truncate(text || fallbackText, 39_000);
}
