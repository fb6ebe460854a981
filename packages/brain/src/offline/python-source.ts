/** One line of Python with what the static checks need to know about it. */
export interface SourceLine {
  /** 1-based line number. */
  no: number;
  /** The line without its trailing comment. */
  code: string;
  indent: number;
  /** False inside a triple-quoted string (docstrings), whose words are not code. */
  isCode: boolean;
  /** The line opens a triple-quoted string (a docstring when it follows a header). */
  opensString: boolean;
}

/** A `def` or `class` header, joined across lines. */
export interface Header {
  kind: "def" | "class";
  name: string;
  no: number;
  indent: number;
  /** The full header text from `def` to the closing `:`. */
  text: string;
  /** Index in `lines` of the header's last line. */
  endIndex: number;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

/** Splits source into lines, marking docstring/triple-quoted lines as non-code. */
export function sourceLines(source: string): SourceLine[] {
  const out: SourceLine[] = [];
  let inTriple: string | undefined;
  source.split(/\r?\n/).forEach((raw, i) => {
    const indent = raw.length - raw.trimStart().length;
    if (inTriple) {
      out.push({ no: i + 1, code: "", indent, isCode: false, opensString: false });
      if (raw.includes(inTriple)) inTriple = undefined;
      return;
    }
    const t = raw.trim();
    const open = /^(?:[rRbBuU]{0,2})("""|''')/.exec(t);
    if (open?.[1]) {
      const rest = t.slice(open[0].length);
      if (!rest.includes(open[1])) inTriple = open[1];
      out.push({ no: i + 1, code: "", indent, isCode: false, opensString: true });
      return;
    }
    out.push({
      no: i + 1,
      code: stripComment(raw).trimEnd(),
      indent,
      isCode: t.length > 0 && !t.startsWith("#"),
      opensString: false,
    });
  });
  return out;
}

/** Every def/class header; multi-line signatures are joined. */
export function headers(lines: readonly SourceLine[]): Header[] {
  const out: Header[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!l?.isCode) continue;
    const m = /^\s*(?:async\s+)?(def|class)\s+(\w+)/.exec(l.code);
    if (!m?.[1] || !m[2]) continue;
    let text = l.code.trim();
    let j = i;
    const depthOf = (s: string) => [...s].reduce((d, c) => d + (c === "(" || c === "[" ? 1 : c === ")" || c === "]" ? -1 : 0), 0);
    let depth = depthOf(text);
    while ((depth > 0 || !text.endsWith(":")) && j + 1 < lines.length) {
      j++;
      const next = lines[j]?.code.trim() ?? "";
      text += ` ${next}`;
      depth += depthOf(next);
    }
    out.push({ kind: m[1] as "def" | "class", name: m[2], no: l.no, indent: l.indent, text, endIndex: j });
  }
  return out;
}

/** The header that encloses `h` (the nearest earlier header with less indentation), if any. */
export function enclosing(all: readonly Header[], h: Header): Header | undefined {
  let found: Header | undefined;
  for (const other of all) {
    if (other.no >= h.no) break;
    if (other.indent < h.indent) found = other;
  }
  return found;
}

/** Parameters of a def header, split at top-level commas, without defaults. */
export function params(header: string): string[] {
  const open = header.indexOf("(");
  let depth = 0;
  let close = -1;
  for (let i = open; i < header.length; i++) {
    if ("([{".includes(header[i] ?? "")) depth++;
    else if (")]}".includes(header[i] ?? "")) {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    }
  }
  const inner = header.slice(open + 1, close);
  const parts: string[] = [];
  let cur = "";
  depth = 0;
  for (const c of inner) {
    if ("([{".includes(c)) depth++;
    if (")]}".includes(c)) depth--;
    if (c === "," && depth === 0) {
      parts.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts.filter((p) => p.length > 0);
}
