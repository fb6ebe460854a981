/**
 * `pnpm house [--json] [--list]`: the counts issue 12 tracks, over the product code (`packages/*\/src`,
 * `services/*\/src`, non-test `.ts` files), measured with the TypeScript compiler's own parser:
 *
 * - circles: import cycles between modules (strongly connected components of the relative-import graph, type-only
 *   imports included; `x.js` resolves to `x.ts`, a folder import to its `index.ts`);
 * - long modules (> 300 lines) and long functions (> 80 lines);
 * - swallowing catches: a `catch` clause or `.catch(handler)` whose handler neither throws nor calls anything
 *   (a bare `() => null`, `() => undefined`, `() => []`, `{}`) — a catch that logs, rethrows or hands the
 *   error on is not counted, nor one in `bestEffort` itself;
 * - `JetStreamApiCodes` uses, and imports of `@mllead/contracts` inside `packages/bus`;
 * - error classes (`class X extends …Error`).
 *
 * With `--list` it prints every finding with its place; `--json` prints the counts as one JSON object.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");
const LONG_MODULE = 300;
const LONG_FUNCTION = 80;

function productFiles(): string[] {
  const out: string[] = [];
  for (const top of ["packages", "services"]) {
    for (const name of readdirSync(join(ROOT, top))) {
      const src = join(ROOT, top, name, "src");
      if (statSync(src, { throwIfNoEntry: false })?.isDirectory()) walk(src, out);
    }
  }
  return out.sort();
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
}

interface Finding {
  file: string;
  line: number;
  what: string;
}

const rel = (p: string) => relative(ROOT, p);

/** A handler body that does nothing with the error: no call, no throw (e.g. `() => null`, `{}`). */
function swallows(body: ts.Node): boolean {
  let acts = false;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) || ts.isThrowStatement(n) || ts.isNewExpression(n) || ts.isAwaitExpression(n)) acts = true;
    else ts.forEachChild(n, visit);
  };
  visit(body);
  return !acts;
}

function functionLines(sf: ts.SourceFile, n: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(n.getEnd()).line - sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
}

function functionName(n: ts.Node): string {
  if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name) return n.name.getText();
  if (ts.isVariableDeclaration(n.parent) && ts.isIdentifier(n.parent.name)) return n.parent.name.text;
  if (ts.isPropertyAssignment(n.parent)) return n.parent.name.getText();
  return "(anonymous)";
}

const files = productFiles();
const graph = new Map<string, string[]>();
const findings = {
  longModules: [] as Finding[],
  longFunctions: [] as Finding[],
  swallowingCatches: [] as Finding[],
  jetStreamApiCodes: [] as Finding[],
  contractsInBus: [] as Finding[],
  errorClasses: [] as Finding[],
};

for (const file of files) {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > LONG_MODULE) findings.longModules.push({ file: rel(file), line: lines, what: `${lines} lines` });
  const imports: string[] = [];
  const inBus = rel(file).startsWith("packages/bus/");
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const spec = n.moduleSpecifier.text;
      // Type-only imports count too: a circle of types is still a circle a reader has to untangle.
      if (spec.startsWith(".")) imports.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      if (inBus && spec.startsWith("@mllead/contracts"))
        findings.contractsInBus.push({ file: rel(file), line: at(n), what: spec });
    }
    if (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n)) {
      const size = functionLines(sf, n);
      if (size > LONG_FUNCTION)
        findings.longFunctions.push({ file: rel(file), line: at(n), what: `${functionName(n)}: ${size} lines` });
    }
    if (ts.isCatchClause(n) && swallows(n.block)) {
      findings.swallowingCatches.push({ file: rel(file), line: at(n), what: "catch {…} that does nothing with the error" });
    }
    if (
      ts.isCallExpression(n) &&
      ts.isPropertyAccessExpression(n.expression) &&
      n.expression.name.text === "catch" &&
      n.arguments.length === 1
    ) {
      const h = n.arguments[0] as ts.Expression;
      if ((ts.isArrowFunction(h) || ts.isFunctionExpression(h)) && swallows(h.body)) {
        findings.swallowingCatches.push({ file: rel(file), line: at(n), what: `.catch(${h.getText(sf).slice(0, 40)})` });
      }
    }
    if (ts.isIdentifier(n) && n.text === "JetStreamApiCodes" && !ts.isImportSpecifier(n.parent)) {
      findings.jetStreamApiCodes.push({ file: rel(file), line: at(n), what: n.parent.getText(sf).slice(0, 60) });
    }
    if (ts.isClassDeclaration(n) && n.name && n.heritageClauses?.some((h) => /Error\b/.test(h.getText(sf)))) {
      findings.errorClasses.push({ file: rel(file), line: at(n), what: n.name.text });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  graph.set(
    file,
    imports.map((p) => (files.includes(p) ? p : join(p.replace(/\.ts$/, ""), "index.ts"))).filter((p) => files.includes(p)),
  );
}

/** Tarjan's strongly connected components: every component with more than one module is a circle. */
function circles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        comp.push(rel(w));
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}

const cycles = circles();
const counts = {
  files: files.length,
  lines: files.reduce((n, f) => n + readFileSync(f, "utf8").split("\n").length, 0),
  circles: cycles.length,
  longModules: findings.longModules.length,
  longFunctions: findings.longFunctions.length,
  swallowingCatches: findings.swallowingCatches.length,
  jetStreamApiCodes: findings.jetStreamApiCodes.length,
  contractsInBus: findings.contractsInBus.length,
  errorClasses: findings.errorClasses.length,
};

if (process.argv.includes("--json")) {
  process.stdout.write(`${JSON.stringify(counts)}\n`);
} else {
  for (const [k, v] of Object.entries(counts)) process.stdout.write(`${k.padEnd(18)} ${v}\n`);
  if (process.argv.includes("--list")) {
    for (const c of cycles) process.stdout.write(`circle: ${c.join(" ↔ ")}\n`);
    for (const [k, list] of Object.entries(findings)) {
      for (const f of list) process.stdout.write(`${k}: ${f.file}:${f.line} ${f.what}\n`);
    }
  }
}
