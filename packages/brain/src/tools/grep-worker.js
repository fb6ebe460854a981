// The worker thread behind `Grep` (see grep-engine.ts): plain JavaScript so that it starts without a
// TypeScript loader. It compiles the pattern once with re2js (RE2 syntax, linear-time matching), then
// answers one message per file: how many lines (or multiline matches) match, and which lines to show.
import { parentPort, workerData } from "node:worker_threads";
import { RE2JS } from "re2js";

/** @type {{ pattern: string, caseInsensitive: boolean, multiline: boolean, mode: string, before: number, after: number }} */
const query = workerData;
const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);

/** @type {RE2JS | undefined} */
let re;
try {
  const flags = (query.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0) | (query.multiline ? RE2JS.DOTALL | RE2JS.MULTILINE : 0);
  re = RE2JS.compile(query.pattern, flags);
} catch (err) {
  port.postMessage({ type: "invalid", message: err instanceof Error ? err.message : String(err) });
}
if (re) {
  const compiled = re;
  port.on("message", (/** @type {{ id: number, text: string }} */ m) => {
    port.postMessage({ type: "result", id: m.id, ...search(compiled, m.text) });
  });
  port.postMessage({ type: "ready" });
}

/**
 * @param {RE2JS} re
 * @param {string} text
 * @returns {{ count: number, lines: number[] }}
 */
function search(re, text) {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const first = query.mode === "files_with_matches";
  /** @type {number[]} */
  const hits = [];
  let count = 0;
  if (!query.multiline) {
    // ripgrep is line-oriented: each line is matched on its own.
    for (let i = 0; i < lines.length; i++) {
      if (!re.matcher(lines[i] ?? "").find()) continue;
      count += 1;
      hits.push(i);
      if (first) break;
    }
  } else {
    const starts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
    const lineOf = (/** @type {number} */ at) => {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] ?? 0) <= at) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const m = re.matcher(text);
    while (m.find()) {
      count += 1;
      if (first) break;
      const end = lineOf(Math.max(m.start(), m.end() - 1));
      for (let l = lineOf(m.start()); l <= end; l++) hits.push(l);
    }
  }
  if (query.mode !== "content") return { count, lines: [] };
  const shown = new Set();
  for (const i of hits) {
    for (let j = Math.max(0, i - query.before); j <= Math.min(lines.length - 1, i + query.after); j++) shown.add(j);
  }
  return { count, lines: [...shown].sort((a, b) => a - b) };
}
