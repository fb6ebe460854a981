import picomatch from "picomatch";
import type { StepTools } from "../types.js";
import { ToolInputError } from "./errors.js";
import { workspacePath } from "./paths.js";
import type { EditInput, GlobInput, GrepInput, ReadInput, WriteInput } from "./schemas.js";

/** Lines `Read` returns when no limit is given, and the longest line it shows in full (Claude Code's defaults). */
const READ_LINES = 2000;
const MAX_LINE = 2000;
/** Entries `Glob` and `Grep` list before they say there are more. */
const MAX_ENTRIES = 250;
/** File types `Grep` knows by name (ripgrep's `--type`). */
const TYPES: Readonly<Record<string, string[]>> = {
  py: ["py", "pyi"],
  ts: ["ts", "tsx", "mts", "cts"],
  js: ["js", "jsx", "mjs", "cjs"],
  md: ["md", "markdown"],
  json: ["json", "jsonl"],
  yaml: ["yaml", "yml"],
  toml: ["toml"],
  sh: ["sh", "bash"],
  sql: ["sql"],
  ipynb: ["ipynb"],
  csv: ["csv", "tsv"],
  txt: ["txt"],
  r: ["r", "R"],
};

/** `Read`: the file with line numbers (`cat -n`), from `offset` for `limit` lines. */
export async function readTool(tools: StepTools, input: ReadInput): Promise<string> {
  const text = await tools.readFile(workspacePath(tools.root, input.file_path));
  if (text === "") return `${input.file_path} exists and is empty.`;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const start = (input.offset ?? 1) - 1;
  if (start >= lines.length)
    throw new ToolInputError(`${input.file_path} has ${lines.length} lines; offset ${start + 1} is past the end`);
  const shown = lines.slice(start, start + (input.limit ?? READ_LINES));
  const body = shown
    .map(
      (line, i) =>
        `${String(start + i + 1).padStart(6)}\t${line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… [line cut]` : line}`,
    )
    .join("\n");
  const rest = lines.length - start - shown.length;
  return rest > 0 ? `${body}\n… ${rest} more lines (use offset ${start + shown.length + 1} to read on)` : body;
}

/** `Write`: creates or replaces a file. */
export async function writeTool(tools: StepTools, input: WriteInput): Promise<string> {
  const path = workspacePath(tools.root, input.file_path);
  await tools.writeFile(path, input.content);
  return `Wrote ${input.content.split("\n").length} lines to ${path}`;
}

/** `Edit`: replaces an exact string, which must be unique unless `replace_all`. */
export async function editTool(tools: StepTools, input: EditInput): Promise<string> {
  if (input.old_string === input.new_string)
    throw new ToolInputError("old_string and new_string are the same; nothing to change");
  const path = workspacePath(tools.root, input.file_path);
  const text = await tools.readFile(path);
  const count = text.split(input.old_string).length - 1;
  if (count === 0) throw new ToolInputError(`old_string was not found in ${path}; Read the file and copy the text exactly`);
  if (count > 1 && !input.replace_all) {
    throw new ToolInputError(`old_string occurs ${count} times in ${path}; add context to make it unique, or set replace_all`);
  }
  const next = input.replace_all
    ? text.split(input.old_string).join(input.new_string)
    : text.replace(input.old_string, () => input.new_string);
  await tools.writeFile(path, next);
  return `Edited ${path}: ${input.replace_all ? count : 1} replacement(s)`;
}

/** Files under `dir` (workspace-relative, `.` = all). */
async function filesUnder(tools: StepTools, dir: string): Promise<string[]> {
  const all = await tools.listFiles();
  if (dir === "." || dir === "") return all;
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const inDir = all.filter((f) => f.startsWith(prefix));
  // A path naming one file searches that file.
  return inDir.length > 0 ? inDir : all.filter((f) => f === dir);
}

function relativeTo(dir: string, file: string): string {
  return dir === "." || dir === "" ? file : file.slice(dir.length + 1);
}

/** `Glob`: workspace files matching a pattern, as paths relative to the working directory. */
export async function globTool(tools: StepTools, input: GlobInput): Promise<string> {
  const dir = workspacePath(tools.root, input.path ?? ".");
  const match = picomatch(input.pattern, { dot: true });
  const hits = (await filesUnder(tools, dir)).filter((f) => match(relativeTo(dir, f)));
  if (hits.length === 0) return "No files found";
  const more = hits.length > MAX_ENTRIES ? `\n… ${hits.length - MAX_ENTRIES} more` : "";
  return hits.slice(0, MAX_ENTRIES).join("\n") + more;
}

function compile(input: GrepInput): RegExp {
  // ripgrep is line-oriented: ^ and $ match at every line; multiline also lets . cross lines.
  const flags = `gm${input["-i"] ? "i" : ""}${input.multiline ? "s" : ""}`;
  try {
    return new RegExp(input.pattern, flags);
  } catch (err) {
    throw new ToolInputError(`invalid regular expression: ${(err as Error).message}`);
  }
}

/** `Grep`: a regular expression over workspace files, in ripgrep's output modes. */
export async function grepTool(tools: StepTools, input: GrepInput): Promise<string> {
  const dir = workspacePath(tools.root, input.path ?? ".");
  const regex = compile(input);
  const byGlob = input.glob ? picomatch(input.glob, { dot: true, basename: !input.glob.includes("/") }) : undefined;
  const exts = input.type ? TYPES[input.type] : undefined;
  if (input.type && !exts) throw new ToolInputError(`unknown type '${input.type}'; known: ${Object.keys(TYPES).join(", ")}`);
  const mode = input.output_mode ?? "files_with_matches";
  const limit = input.head_limit ?? MAX_ENTRIES;
  const before = input["-B"] ?? input["-C"] ?? 0;
  const after = input["-A"] ?? input["-C"] ?? 0;
  const out: string[] = [];
  for (const file of await filesUnder(tools, dir)) {
    if (out.length >= limit) break;
    if (byGlob && !byGlob(file)) continue;
    if (exts && !exts.some((e) => file.endsWith(`.${e}`))) continue;
    let text: string;
    try {
      text = await tools.readFile(file);
    } catch {
      continue; // too large or unreadable: ripgrep skips binaries too
    }
    if (text.includes("\0")) continue;
    regex.lastIndex = 0;
    if (mode === "files_with_matches") {
      if (regex.test(text)) out.push(file);
      continue;
    }
    if (mode === "count") {
      const n = text.match(regex)?.length ?? 0;
      if (n > 0) out.push(`${file}:${n}`);
      continue;
    }
    const lines = text.split("\n");
    const shown = new Set<number>();
    lines.forEach((line, i) => {
      regex.lastIndex = 0;
      if (!regex.test(line)) return;
      for (let j = Math.max(0, i - before); j <= Math.min(lines.length - 1, i + after); j++) shown.add(j);
    });
    for (const i of [...shown].sort((a, b) => a - b)) {
      if (out.length >= limit) break;
      out.push(`${file}:${input["-n"] ? `${i + 1}:` : ""}${(lines[i] ?? "").slice(0, MAX_LINE)}`);
    }
  }
  if (out.length === 0) return "No matches found";
  return out.length >= limit ? `${out.join("\n")}\n… (first ${limit} shown)` : out.join("\n");
}
