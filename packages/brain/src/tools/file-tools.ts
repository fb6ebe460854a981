import { createHash } from "node:crypto";
import { ToolInputError } from "../errors.js";
import type { FileChangeIntent, StepTools } from "../types.js";
import { workspacePath } from "./paths.js";
import type { EditInput, WriteInput } from "./schemas.js";

/**
 * How a `Write` or `Edit` journals its change before making it (the Claude loop keeps the journal in the
 * step's saved transcript). A call that a restart interrupted gets back the intent it journalled, if it got
 * that far, and compares the file with it instead of changing it blindly a second time.
 */
export interface FileJournal {
  /** The intent this same call journalled before the specialist restarted; absent for a fresh call. */
  previous?: FileChangeIntent;
  /** Records the intent durably; the file is changed only once this resolves. */
  record(intent: FileChangeIntent): Promise<void>;
}

/** sha256 of a file's text: what the journal compares. */
export function contentHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The file's text; null when it does not exist; undefined when it is too large to read whole. */
async function currentText(tools: StepTools, path: string): Promise<string | null | undefined> {
  try {
    return await tools.readFile(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "not_found") return null;
    if (code === "too_large") return undefined;
    throw err;
  }
}

/**
 * `Write`: creates or replaces a file. Idempotent by content: a file that already holds the content is
 * not written again (so a Write a restart interrupted after it wrote is reported, not repeated).
 */
export async function writeTool(tools: StepTools, input: WriteInput, journal?: FileJournal): Promise<string> {
  const path = workspacePath(tools.root, input.file_path);
  const result = `Wrote ${input.content.split("\n").length} lines to ${path}`;
  const now = await currentText(tools, path);
  if (now === input.content) {
    return journal?.previous ? `${result} (written before the specialist restarted; not written again)` : result;
  }
  await journal?.record({
    tool: "Write",
    path,
    before: typeof now === "string" ? contentHash(now) : null,
    after: contentHash(input.content),
    result,
  });
  await tools.writeFile(path, input.content);
  return result;
}

/**
 * `Edit`: replaces an exact string, which must be unique unless `replace_all`. A resumed call whose file
 * already holds the journalled result reports it applied, and one whose file changed otherwise since is
 * refused, so an edit is never applied twice.
 */
export async function editTool(tools: StepTools, input: EditInput, journal?: FileJournal): Promise<string> {
  if (input.old_string === input.new_string)
    throw new ToolInputError("old_string and new_string are the same; nothing to change");
  const path = workspacePath(tools.root, input.file_path);
  const text = await tools.readFile(path);
  const before = contentHash(text);
  const previous = journal?.previous;
  if (previous) {
    if (before === previous.after) return `${previous.result} (applied before the specialist restarted; not applied again)`;
    if (before !== previous.before) {
      throw new ToolInputError(
        `this edit was being applied when the specialist restarted, and ${path} has changed since: Read it and make the edit again if it is still needed`,
      );
    }
  }
  const count = text.split(input.old_string).length - 1;
  if (count === 0) throw new ToolInputError(`old_string was not found in ${path}; Read the file and copy the text exactly`);
  if (count > 1 && !input.replace_all) {
    throw new ToolInputError(`old_string occurs ${count} times in ${path}; add context to make it unique, or set replace_all`);
  }
  const next = input.replace_all
    ? text.split(input.old_string).join(input.new_string)
    : text.replace(input.old_string, () => input.new_string);
  const result = `Edited ${path}: ${input.replace_all ? count : 1} replacement(s)`;
  await journal?.record({ tool: "Edit", path, before, after: contentHash(next), result });
  await tools.writeFile(path, next);
  return result;
}
