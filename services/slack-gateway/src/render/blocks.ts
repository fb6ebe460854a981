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

/** Escapes the three characters Slack's mrkdwn treats as control sequences. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
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
 * Keeps a message within 50 blocks: the trailing actions/context blocks (buttons, labels) are kept,
 * and a note says how many sections in the middle were left out.
 */
export function fitBlocks(blocks: KnownBlock[]): KnownBlock[] {
  if (blocks.length <= BLOCK_LIMITS.blocks) return blocks;
  let tailStart = blocks.length;
  while (tailStart > 0 && ["actions", "context"].includes(blocks[tailStart - 1]?.type ?? "")) tailStart--;
  const tail = blocks.slice(tailStart).slice(-10);
  const room = BLOCK_LIMITS.blocks - tail.length - 1;
  const hidden = blocks.length - tail.length - room;
  return [...blocks.slice(0, room), context(`_…${hidden} more blocks left out: Slack shows at most 50 per message._`), ...tail];
}

/** Fallback text (notifications, screen readers): plain and short. */
export function fallback(text: string): string {
  return truncate(text, BLOCK_LIMITS.fallbackText);
}
