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
  maxPrivateMetadata: 3000,
  /** A plain_text_input's `max_length` ceiling. */
  maxInputChars: 3000,
} as const;

interface TextObject {
  type?: unknown;
  text?: unknown;
}

function textLen(t: unknown): number {
  if (!t || typeof t !== "object") return 0;
  const text = (t as TextObject).text;
  return typeof text === "string" ? text.length : 0;
}

/**
 * Checks blocks against Slack's Block Kit limits (a message holds 50 blocks, a modal 100). Returns the problems found, each
 * phrased like Slack's own `invalid_blocks` details; empty means valid.
 */
export function blockProblems(blocks: unknown, maxBlocks: number = SLACK_LIMITS.maxBlocks): string[] {
  if (!Array.isArray(blocks)) return ["blocks must be an array"];
  const problems: string[] = [];
  if (blocks.length > maxBlocks) {
    problems.push(`no more than ${maxBlocks} items allowed [json-pointer:/blocks]`);
  }
  blocks.forEach((raw, i) => {
    const at = `[json-pointer:/blocks/${i}`;
    if (!raw || typeof raw !== "object") {
      problems.push(`block must be an object ${at}]`);
      return;
    }
    const b = raw as Record<string, unknown>;
    if (typeof b.block_id === "string" && b.block_id.length > SLACK_LIMITS.maxBlockId) {
      problems.push(`must be less than ${SLACK_LIMITS.maxBlockId} characters ${at}/block_id]`);
    }
    switch (b.type) {
      case "section": {
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
        break;
      }
      case "header":
        if (textLen(b.text) > SLACK_LIMITS.maxHeaderText || (b.text as TextObject | undefined)?.type !== "plain_text") {
          problems.push(`header text must be plain_text under ${SLACK_LIMITS.maxHeaderText + 1} characters ${at}/text]`);
        }
        break;
      case "context":
        if (!Array.isArray(b.elements) || b.elements.length > SLACK_LIMITS.maxContextElements) {
          problems.push(`context needs 1 to ${SLACK_LIMITS.maxContextElements} elements ${at}/elements]`);
        }
        break;
      case "actions":
        if (!Array.isArray(b.elements) || b.elements.length > SLACK_LIMITS.maxActionElements) {
          problems.push(`actions needs 1 to ${SLACK_LIMITS.maxActionElements} elements ${at}/elements]`);
        } else {
          b.elements.forEach((e: Record<string, unknown>, j: number) => {
            if (textLen(e.text) > SLACK_LIMITS.maxButtonText) problems.push(`button text too long ${at}/elements/${j}/text]`);
            if (typeof e.value === "string" && e.value.length > SLACK_LIMITS.maxButtonValue) {
              problems.push(`button value too long ${at}/elements/${j}/value]`);
            }
            if (typeof e.action_id === "string" && e.action_id.length > SLACK_LIMITS.maxActionId) {
              problems.push(`action_id too long ${at}/elements/${j}/action_id]`);
            }
          });
        }
        break;
      case "divider":
      case "image":
      case "rich_text":
      case "input":
      case "file":
      case "video":
      case "markdown":
        break;
      default:
        problems.push(`unsupported block type ${String(b.type)} ${at}/type]`);
    }
  });
  return problems;
}
