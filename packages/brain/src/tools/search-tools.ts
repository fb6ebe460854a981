import { basename } from "node:path";
import picomatch from "picomatch";
import { GrepStoppedError, ToolInputError } from "../errors.js";
import type { FileListing, StepTools } from "../types.js";
import { GrepEngine } from "./grep-engine.js";
import { readablePath } from "./paths.js";
import type { GlobInput, GrepInput } from "./schemas.js";

/** Entries `Glob` and `Grep` list before they say there are more. */
const MAX_ENTRIES = 250;
/** Files a listing walks before it stops and says so. */
const MAX_WALKED = 10_000;
/** Text `Grep` searches in one call (UTF-16 code units, about bytes) before it stops and says so. */
const MAX_SEARCHED = 64 * 1024 * 1024;
/** How long one `Grep` may search before it stops and says so (ms); RE2 is linear, so this is a backstop. */
const GREP_DEADLINE_MS = 60_000;
/** The longest line `Grep` shows. */
const MAX_LINE = 2000;
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

async function walk(tools: StepTools, dir: string): Promise<FileListing> {
  return tools.findFiles(dir, { maxFiles: MAX_WALKED });
}

function relativeTo(dir: string, file: string): string {
  if (file === dir) return basename(file);
  return dir === "." || dir === "" ? file : file.slice(dir.length + 1);
}

const walkedNote = `the listing stopped after ${MAX_WALKED} files, so there may be more: use a narrower path`;

/** What .gitignore left out of a listing, said so the model knows where else to look. */
function ignoredNote(listing: FileListing): string[] {
  if (!listing.ignored) return [];
  return [
    `${listing.ignored} path(s) that .gitignore ignores were left out (as ripgrep does): Read them by name, or list them with Bash`,
  ];
}

/** `Glob`: files matching a pattern, as paths relative to the working directory (absolute in a data dir). */
export async function globTool(tools: StepTools, input: GlobInput): Promise<string> {
  const dir = readablePath(tools, input.path ?? ".");
  const match = picomatch(input.pattern, { dot: true });
  const listing = await walk(tools, dir);
  const hits = listing.files.filter((f) => match(relativeTo(dir, f)));
  const notes: string[] = [];
  if (hits.length > MAX_ENTRIES) notes.push(`… ${hits.length - MAX_ENTRIES} more (first ${MAX_ENTRIES} shown)`);
  if (listing.truncated) notes.push(`(${walkedNote})`);
  for (const n of ignoredNote(listing)) notes.push(`(${n})`);
  const body = hits.length === 0 ? "No files found" : hits.slice(0, MAX_ENTRIES).join("\n");
  return [body, ...notes].join("\n");
}

/** Why files were left out of a search, for the note under its output. */
interface Skipped {
  large: number;
  unreadable: string[];
}

async function readForSearch(tools: StepTools, file: string, skipped: Skipped): Promise<string | undefined> {
  try {
    return await tools.readFile(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "too_large") skipped.large += 1;
    // Removed meanwhile (a command runs beside us) is no finding; anything else is said.
    else if (code !== "not_found") skipped.unreadable.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/**
 * `Grep`: a regular expression (RE2 syntax, as ripgrep's) over files, in ripgrep's output modes. The
 * matching runs in a worker thread (`GrepEngine`), never on the service's own; limits hit are said.
 */
export async function grepTool(tools: StepTools, input: GrepInput, signal?: AbortSignal): Promise<string> {
  const dir = readablePath(tools, input.path ?? ".");
  const byGlob = input.glob ? picomatch(input.glob, { dot: true, basename: !input.glob.includes("/") }) : undefined;
  const exts = input.type ? TYPES[input.type] : undefined;
  if (input.type && !exts) throw new ToolInputError(`unknown type '${input.type}'; known: ${Object.keys(TYPES).join(", ")}`);
  const mode = input.output_mode ?? "files_with_matches";
  const limit = input.head_limit ?? MAX_ENTRIES;
  const query = {
    pattern: input.pattern,
    caseInsensitive: input["-i"] ?? false,
    multiline: input.multiline ?? false,
    mode,
    before: input["-B"] ?? input["-C"] ?? 0,
    after: input["-A"] ?? input["-C"] ?? 0,
  };
  const out: string[] = [];
  const notes: string[] = [];
  const skipped: Skipped = { large: 0, unreadable: [] };
  let searched = 0;
  let engine: GrepEngine | undefined;
  try {
    engine = await GrepEngine.start(query, { deadlineMs: GREP_DEADLINE_MS, ...(signal ? { signal } : {}) });
    const listing = await walk(tools, dir);
    if (listing.truncated) notes.push(walkedNote);
    notes.push(...ignoredNote(listing));
    for (const file of listing.files) {
      if (out.length >= limit) break;
      if (byGlob && !byGlob(file.startsWith("/") ? relativeTo(dir, file) : file)) continue;
      if (exts && !exts.some((e) => file.endsWith(`.${e}`))) continue;
      const text = await readForSearch(tools, file, skipped);
      // Binary files are skipped, as ripgrep does.
      if (text === undefined || text.includes("\0")) continue;
      searched += text.length;
      if (searched > MAX_SEARCHED) {
        notes.push(`the search stopped after ${MAX_SEARCHED / 1024 / 1024} MiB of text: narrow path, glob or type`);
        break;
      }
      const hit = await engine.search(text);
      if (hit.count === 0) continue;
      if (mode === "files_with_matches") out.push(file);
      else if (mode === "count") out.push(`${file}:${hit.count}`);
      else {
        const lines = text.split("\n");
        for (const i of hit.lines) {
          if (out.length >= limit) break;
          out.push(`${file}:${input["-n"] ? `${i + 1}:` : ""}${(lines[i] ?? "").slice(0, MAX_LINE)}`);
        }
      }
    }
  } catch (err) {
    if (!(err instanceof GrepStoppedError)) throw err;
    notes.push(`${err.message}; what is above is partial`);
  } finally {
    await engine?.close();
  }
  if (skipped.large > 0) notes.push(`${skipped.large} file(s) over 1 MiB were not searched: use Bash (grep, rg) for those`);
  if (skipped.unreadable.length > 0) {
    notes.push(`${skipped.unreadable.length} file(s) could not be read, e.g. ${skipped.unreadable[0]}`);
  }
  const body = out.length === 0 ? "No matches found" : out.join("\n");
  const shownNote = out.length >= limit ? [`… (first ${limit} shown)`] : [];
  return [body, ...shownNote, ...notes.map((n) => `(${n})`)].join("\n");
}
