import { StringDecoder } from "node:string_decoder";
import { ToolInputError } from "../errors.js";
import type { StepTools } from "../types.js";
import type { ImageMediaType, ToolOutput } from "./output.js";
import { readablePath } from "./paths.js";
import type { ReadInput } from "./schemas.js";

/** Lines `Read` returns when no limit is given, and the longest line it shows in full (Claude Code's defaults). */
const READ_LINES = 2000;
const MAX_LINE = 2000;
/**
 * The most characters one `Read` answer holds: Claude Code's 25,000-token cap at about 4 characters a token.
 * Past it the answer stops at a line end and says how to read on, so one file never fills the context.
 */
export const READ_MAX_CHARS = 100_000;
/** Bytes read per look at the file; `Read` scans pages of a large file rather than loading it whole. */
const CHUNK_BYTES = 1024 * 1024;
/** The furthest into a file `Read` scans for the lines asked for (bytes); beyond, `Bash` (sed, tail) is the tool. */
const MAX_SCAN_BYTES = 256 * 1024 * 1024;
/** Bytes looked at to tell a binary file from text (as git and ripgrep do: a NUL, or not UTF-8). */
const SNIFF_BYTES = 8192;
/**
 * The largest image `Read` sends (bytes): the Messages API takes images up to 5 MB as base64, which is
 * 3.75 MiB of image. Larger ones are described, not sent (`Read` does not downscale).
 */
export const MAX_IMAGE_BYTES = (5 * 1024 * 1024 * 3) / 4;
/** The API refuses images wider or taller than this (pixels). */
const MAX_IMAGE_SIDE = 8000;

const IMAGE_MAGIC: readonly [ImageMediaType, (b: Buffer) => boolean][] = [
  ["image/png", (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ["image/jpeg", (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ["image/gif", (b) => ["GIF87a", "GIF89a"].includes(b.subarray(0, 6).toString("latin1"))],
  ["image/webp", (b) => b.subarray(0, 4).toString("latin1") === "RIFF" && b.subarray(8, 12).toString("latin1") === "WEBP"],
];

/** Binary formats an ML repository holds, by their first bytes, to say what a file is instead of dumping it. */
const BINARY_MAGIC: readonly [string, (b: Buffer) => boolean][] = [
  ["a NumPy array (.npy)", (b) => b.subarray(0, 6).equals(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]))],
  ["a Parquet file", (b) => b.subarray(0, 4).toString("latin1") === "PAR1"],
  ["an HDF5 file", (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ["a ZIP archive (also .npz, .xlsx, PyTorch checkpoints)", (b) => b.subarray(0, 4).toString("latin1") === "PK\u0003\u0004"],
  ["gzip-compressed data", (b) => b[0] === 0x1f && b[1] === 0x8b],
  ["a PDF document", (b) => b.subarray(0, 5).toString("latin1") === "%PDF-"],
  ["an SQLite database", (b) => b.subarray(0, 16).toString("latin1") === "SQLite format 3\u0000"],
  ["a Python pickle", (b) => b[0] === 0x80 && (b[1] ?? 0) >= 2 && (b[1] ?? 0) <= 5],
  ["an ELF executable or library", (b) => b.subarray(0, 4).toString("latin1") === "\u007fELF"],
];

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** True when `head` (the first bytes of a file; `whole` when it is all of it) is not text: a NUL, or not UTF-8. */
function isBinary(head: Buffer, whole: boolean): boolean {
  const sniff = head.subarray(0, SNIFF_BYTES);
  if (sniff.includes(0)) return true;
  try {
    // A multi-byte character cut at the end of the sniffed bytes is not an error (stream: true).
    new TextDecoder("utf-8", { fatal: true }).decode(sniff, { stream: !whole || head.length > SNIFF_BYTES });
    return false;
  } catch (err) {
    // A fatal decoder throws a TypeError on bytes that are not UTF-8: that is the answer, not a failure.
    if (err instanceof TypeError) return true;
    throw err;
  }
}

/** A PNG's width and height from its IHDR chunk. */
function pngSize(b: Buffer): { width: number; height: number } | undefined {
  return b.length >= 24 ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : undefined;
}

async function readImage(tools: StepTools, path: string, shown: string, type: ImageMediaType, bytes: number, head: Buffer) {
  const kind = type.slice("image/".length).toUpperCase();
  const dims = type === "image/png" ? pngSize(head) : undefined;
  const what = `${shown}: ${kind} image${dims ? `, ${dims.width}×${dims.height} px` : ""}, ${size(bytes)}`;
  if (bytes > MAX_IMAGE_BYTES) {
    return `${what} — too large to show: images up to ${size(MAX_IMAGE_BYTES)} (5 MB as base64) can be sent to Claude. Save a smaller copy (e.g. matplotlib with a lower dpi) and Read that.`;
  }
  if (dims && (dims.width > MAX_IMAGE_SIDE || dims.height > MAX_IMAGE_SIDE)) {
    return `${what} — too large to show: images up to ${MAX_IMAGE_SIDE} px a side can be sent to Claude. Save a smaller copy and Read that.`;
  }
  const { data } = await tools.readBytes(path, { maxBytes: MAX_IMAGE_BYTES });
  return [
    { type: "text" as const, text: what },
    { type: "image" as const, source: { type: "base64" as const, media_type: type, data: data.toString("base64") } },
  ];
}

function binaryNote(shown: string, bytes: number, head: Buffer): string {
  const kind = BINARY_MAGIC.find(([, test]) => test(head))?.[0] ?? "binary data (not UTF-8 text)";
  return `${shown} is ${kind}, ${size(bytes)}: Read shows text files and PNG, JPEG, GIF or WebP images only. Inspect it with Bash (e.g. python3 -c '...', file, xxd | head).`;
}

/**
 * `Read`: a text file with line numbers (`cat -n`) from `offset` for `limit` lines (default 2,000; lines over
 * 2,000 characters are cut), at most `READ_MAX_CHARS` characters (~25,000 tokens) per answer, which then
 * says which offset reads on. A file of any size is read page by page, never whole. PNG, JPEG, GIF and WebP
 * images come back as an image block for Claude to look at; other binary files are described, not dumped.
 * Absolute paths in the team's data dirs are readable too.
 */
export async function readTool(tools: StepTools, input: ReadInput): Promise<ToolOutput> {
  const path = readablePath(tools, input.file_path);
  const shown = input.file_path;
  const first = await tools.readBytes(path, { maxBytes: CHUNK_BYTES });
  if (first.size === 0) return `${shown} exists and is empty.`;
  const image = IMAGE_MAGIC.find(([, test]) => test(first.data))?.[0];
  if (image) return readImage(tools, path, shown, image, first.size, first.data);
  if (isBinary(first.data, first.data.length >= first.size)) return binaryNote(shown, first.size, first.data);
  return readText(tools, path, shown, input, first);
}

async function readText(
  tools: StepTools,
  path: string,
  shown: string,
  input: ReadInput,
  first: { data: Buffer; size: number },
): Promise<string> {
  const start = (input.offset ?? 1) - 1;
  const want = input.limit ?? READ_LINES;
  const decoder = new StringDecoder("utf8");
  const out: string[] = [];
  let chars = 0;
  let cut = false;
  let line = 0;
  // The line being read across pages, kept to its first MAX_LINE + 1 characters.
  let pending = "";
  let pos = 0;
  let data = first.data;
  const done = () => cut || out.length >= want;
  const take = (text: string) => {
    if (line >= start && !done()) {
      const body = text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}… [line cut]` : text;
      const row = `${String(line + 1).padStart(6)}\t${body}`;
      if (out.length > 0 && chars + row.length + 1 > READ_MAX_CHARS) cut = true;
      else {
        out.push(row);
        chars += row.length + 1;
      }
    }
    line += 1;
  };
  for (;;) {
    pos += data.length;
    const eof = data.length === 0 || pos >= first.size;
    const parts = (pending + decoder.write(data) + (eof ? decoder.end() : "")).split("\n");
    pending = eof ? "" : (parts.pop() ?? "");
    if (eof && parts.at(-1) === "") parts.pop();
    for (const p of parts) take(p);
    if (pending.length > MAX_LINE + 1) pending = pending.slice(0, MAX_LINE + 1);
    if (eof) break;
    if (done()) return `${out.join("\n")}\n${goesOn(shown, start + out.length + 1, cut, first.size)}`;
    if (pos >= MAX_SCAN_BYTES) {
      throw new ToolInputError(
        `${shown} is ${size(first.size)}; line ${start + 1} lies past the first ${size(MAX_SCAN_BYTES)}, which is as far as Read scans: use Bash (sed -n, tail) for that part`,
      );
    }
    data = (await tools.readBytes(path, { start: pos, maxBytes: CHUNK_BYTES })).data;
  }
  if (start >= line && out.length === 0) {
    throw new ToolInputError(`${shown} has ${line} lines; offset ${start + 1} is past the end`);
  }
  const next = start + out.length + 1;
  const rest = line - next + 1;
  if (rest <= 0) return out.join("\n");
  const capNote = cut ? [capped(next)] : [];
  return [...out, ...capNote, `… ${rest} more lines (use offset ${next} to read on)`].join("\n");
}

function capped(next: number): string {
  return `… this answer stopped at about 25,000 tokens (${READ_MAX_CHARS.toLocaleString("en")} characters), Read's limit: read on from offset ${next} with a limit, or summarise the file with Bash (python3, wc, head)`;
}

/** The last line of a page of a file not scanned to its end: the line count is unknown, the size is not. */
function goesOn(shown: string, next: number, cut: boolean, bytes: number): string {
  const why = cut ? `${capped(next)}\n` : "";
  return `${why}… ${shown} goes on (${size(bytes)} in all; use offset ${next} to read on)`;
}
