/** Slack's documented limits that the sandbox enforces, so a message Slack would refuse is refused here too. */
export const SLACK_LIMITS = {
  /** chat.postMessage / chat.update: `text` longer than this → `msg_too_long`. */
  maxTextChars: 40_000,
  maxBlocks: 50,
  maxSectionText: 3000,
  maxSectionFields: 10,
  maxFieldText: 2000,
  maxHeaderText: 150,
  maxContextElements: 10,
  maxActionElements: 25,
  maxButtonText: 75,
  maxButtonValue: 2000,
  maxActionId: 255,
  maxBlockId: 255,
  /** A modal: up to 100 blocks; title, submit and close up to 24 characters. */
  maxViewBlocks: 100,
  maxViewText: 24,
  /** An input block's label. */
  maxInputLabel: 2000,
  maxPrivateMetadata: 3000,
  /** A plain_text_input's `max_length` ceiling. */
  maxInputChars: 3000,
  /** A `markdown` block, and a stream's `markdown_text`: 12,000 characters. */
  maxMarkdownChars: 12_000,
  /** An image's `alt_text` (and `alt_txt` of an upload). */
  maxAltText: 2000,
  /** A `home` view holds up to 100 blocks, like a modal. */
  maxHomeBlocks: 100,
} as const;

const TASK_STATUSES = new Set(["pending", "in_progress", "complete", "error"]);

interface TextObject {
  type?: unknown;
  text?: unknown;
}

function isRichText(v: unknown): boolean {
  const o = v as { type?: unknown; elements?: unknown } | undefined;
  return o?.type === "rich_text" && Array.isArray(o.elements);
}

/** A `task_card`: a step of a plan, with a status Slack draws as a pending, spinning, done or failed mark. */
function taskCardProblems(b: Record<string, unknown>, at: string): string[] {
  const problems: string[] = [];
  if (typeof b.task_id !== "string" || b.task_id.length === 0) problems.push(`must provide a task_id ${at}/task_id]`);
  if (typeof b.title !== "string" || b.title.length === 0) problems.push(`must provide a title ${at}/title]`);
  if (b.status !== undefined && !TASK_STATUSES.has(String(b.status))) {
    problems.push(`status must be one of pending, in_progress, complete, error ${at}/status]`);
  }
  for (const f of ["details", "output"] as const) {
    if (b[f] !== undefined && !isRichText(b[f])) problems.push(`must be a single rich_text object ${at}/${f}]`);
  }
  if (b.sources !== undefined) {
    const ok =
      Array.isArray(b.sources) &&
      b.sources.every(
        (x: { type?: unknown; url?: unknown; text?: unknown }) =>
          x?.type === "url" && typeof x.url === "string" && typeof x.text === "string",
      );
    if (!ok) problems.push(`sources must be url elements with url and text ${at}/sources]`);
  }
  return problems;
}

function textLen(t: unknown): number {
  if (!t || typeof t !== "object") return 0;
  const text = (t as TextObject).text;
  return typeof text === "string" ? text.length : 0;
}

type Block = Record<string, unknown>;

function sectionProblems(b: Block, at: string): string[] {
  const problems: string[] = [];
  const tt = (b.text as TextObject | undefined)?.type;
  if (b.text !== undefined && tt !== "mrkdwn" && tt !== "plain_text")
    problems.push(`text must be mrkdwn or plain_text ${at}/text]`);
  if (textLen(b.text) > SLACK_LIMITS.maxSectionText) {
    problems.push(`must be less than ${SLACK_LIMITS.maxSectionText + 1} characters ${at}/text/text]`);
  }
  if (b.text === undefined && b.fields === undefined) problems.push(`must provide text or fields ${at}]`);
  if (Array.isArray(b.fields)) {
    if (b.fields.length > SLACK_LIMITS.maxSectionFields) problems.push(`too many fields ${at}/fields]`);
    b.fields.forEach((f, j) => {
      if (textLen(f) > SLACK_LIMITS.maxFieldText) problems.push(`field too long ${at}/fields/${j}/text]`);
    });
  }
  return problems;
}

function actionsProblems(b: Block, at: string): string[] {
  if (!Array.isArray(b.elements) || b.elements.length > SLACK_LIMITS.maxActionElements) {
    return [`actions needs 1 to ${SLACK_LIMITS.maxActionElements} elements ${at}/elements]`];
  }
  const problems: string[] = [];
  b.elements.forEach((e: Record<string, unknown>, j: number) => {
    if (textLen(e.text) > SLACK_LIMITS.maxButtonText) problems.push(`button text too long ${at}/elements/${j}/text]`);
    if (typeof e.value === "string" && e.value.length > SLACK_LIMITS.maxButtonValue) {
      problems.push(`button value too long ${at}/elements/${j}/value]`);
    }
    if (typeof e.action_id === "string" && e.action_id.length > SLACK_LIMITS.maxActionId) {
      problems.push(`action_id too long ${at}/elements/${j}/action_id]`);
    }
  });
  return problems;
}

function planProblems(b: Block, at: string): string[] {
  const problems: string[] = [];
  if (typeof b.title !== "string" || b.title.length === 0) problems.push(`must provide a title ${at}/title]`);
  if (b.tasks !== undefined && !Array.isArray(b.tasks)) problems.push(`tasks must be an array ${at}/tasks]`);
  if (Array.isArray(b.tasks)) {
    b.tasks.forEach((t: unknown, j: number) => {
      const card = (t ?? {}) as Block;
      if (card.type !== "task_card") problems.push(`tasks must be task_card blocks ${at}/tasks/${j}/type]`);
      problems.push(...taskCardProblems(card, `${at}/tasks/${j}`));
    });
  }
  return problems;
}

function imageProblems(b: Block, at: string): string[] {
  const problems: string[] = [];
  if (typeof b.alt_text !== "string" || b.alt_text.length === 0 || b.alt_text.length > SLACK_LIMITS.maxAltText) {
    problems.push(`must provide alt_text under ${SLACK_LIMITS.maxAltText + 1} characters ${at}/alt_text]`);
  }
  if (typeof b.image_url !== "string" && !b.slack_file) problems.push(`must provide image_url or slack_file ${at}]`);
  return problems;
}

const NONE = (): string[] => [];

/** The checks of each block type Slack takes; a type missing here is `unsupported block type`. */
const BLOCK_CHECKS: Readonly<Record<string, (b: Block, at: string) => string[]>> = {
  section: sectionProblems,
  header: (b, at) =>
    textLen(b.text) > SLACK_LIMITS.maxHeaderText || (b.text as TextObject | undefined)?.type !== "plain_text"
      ? [`header text must be plain_text under ${SLACK_LIMITS.maxHeaderText + 1} characters ${at}/text]`]
      : [],
  context: (b, at) =>
    !Array.isArray(b.elements) || b.elements.length > SLACK_LIMITS.maxContextElements
      ? [`context needs 1 to ${SLACK_LIMITS.maxContextElements} elements ${at}/elements]`]
      : [],
  actions: actionsProblems,
  plan: planProblems,
  task_card: taskCardProblems,
  markdown: (b, at) =>
    typeof b.text !== "string" || b.text.length > SLACK_LIMITS.maxMarkdownChars
      ? [`markdown text must be a string under ${SLACK_LIMITS.maxMarkdownChars + 1} characters ${at}/text]`]
      : [],
  image: imageProblems,
  rich_text: (b, at) => (isRichText(b) ? [] : [`rich_text needs elements ${at}/elements]`]),
  divider: NONE,
  input: NONE,
  file: NONE,
  video: NONE,
};

/** The problems of one block: its id, then the checks of its type. */
function oneBlockProblems(raw: unknown, i: number): string[] {
  const at = `[json-pointer:/blocks/${i}`;
  if (!raw || typeof raw !== "object") return [`block must be an object ${at}]`];
  const b = raw as Block;
  const problems: string[] = [];
  if (typeof b.block_id === "string" && b.block_id.length > SLACK_LIMITS.maxBlockId) {
    problems.push(`must be less than ${SLACK_LIMITS.maxBlockId} characters ${at}/block_id]`);
  }
  const check = typeof b.type === "string" && Object.hasOwn(BLOCK_CHECKS, b.type) ? BLOCK_CHECKS[b.type] : undefined;
  if (!check) return [...problems, `unsupported block type ${String(b.type)} ${at}/type]`];
  return [...problems, ...check(b, at)];
}

/**
 * Checks blocks against Slack's Block Kit limits (a message holds 50 blocks, a modal 100). Returns the problems found, each
 * phrased like Slack's own `invalid_blocks` details; empty means valid.
 */
export function blockProblems(blocks: unknown, maxBlocks: number = SLACK_LIMITS.maxBlocks): string[] {
  if (!Array.isArray(blocks)) return ["blocks must be an array"];
  const problems: string[] = [];
  if (blocks.length > maxBlocks) problems.push(`no more than ${maxBlocks} items allowed [json-pointer:/blocks]`);
  blocks.forEach((raw, i) => {
    problems.push(...oneBlockProblems(raw, i));
  });
  return problems;
}
