/**
 * Seeded generators for bad-input tests: a small PRNG, values of every wrong kind and structural
 * mutations of a well-formed JSON value. One seed always yields the same cases, so a failure replays.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** mulberry32: a small seeded PRNG, so every run with one seed sends the very same inputs. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

/** Nested JSON text of any depth (JSON.stringify itself stops at a few thousand levels). */
export function deepText(depth: number): string {
  return `${"[".repeat(depth)}"x"${"]".repeat(depth)}`;
}

/** A value nested `depth` levels deep, alternating arrays and objects. */
export function deep(depth: number, leaf: Json = "x"): Json {
  let v: Json = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { d: v } : [v];
  return v;
}

/** Values of every wrong kind: nulls, other types, unicode, huge strings, deep nesting, prototype keys. */
export function weird(r: Rng): Json {
  return r.pick<() => Json>([
    () => null,
    () => true,
    () => r.int(-1e9, 1e9),
    () => 1e308,
    () => -0.5,
    () => "",
    () => " \t\n",
    () => "\u0000\u0001\u001f",
    () => "💥".repeat(r.int(1, 400)),
    () => "\ud800 lone surrogate \udfff",
    () => "\u202eevil rtl\u200b\u200d",
    () => "ÿ€Ω漢字🧪".repeat(r.int(1, 50)),
    () => "a".repeat(r.pick([255, 256, 2001, 3001, 4001, 40_001])),
    () => [],
    () => [1, "two", null],
    () => ({}),
    () => JSON.parse('{"__proto__": {"polluted": true}}') as Json,
    () => ({ constructor: { prototype: { polluted: true } } }),
    () => deep(r.pick([10, 100, 1000, 2000])),
    () => "1700000000.000100",
    () => "U0HUMAN",
    () => "<@U0MLLEAD> train a model",
    () => "../../etc/passwd",
    () => "NaN",
    () => "<script>alert(1)</script>",
  ])();
}

type Path = (string | number)[];

function allPaths(v: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (prefix.length > 6) return out;
  const children: [string | number, Json][] = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : v && typeof v === "object"
      ? Object.entries(v)
      : [];
  for (const [k, x] of children) {
    out.push([...prefix, k]);
    allPaths(x, [...prefix, k], out);
  }
  return out;
}

/** A copy of `root` with one field deleted, replaced by a `weird` value, or a strange key added. */
export function mutate(r: Rng, root: Record<string, Json>): { value: Json; what: string } {
  const value = structuredClone(root) as Json;
  const paths = allPaths(value);
  const path = r.pick(paths);
  const parentPath = path.slice(0, -1);
  let parent: Json = value;
  for (const k of parentPath) parent = (parent as Record<string | number, Json>)[k] as Json;
  const key = path.at(-1) as string | number;
  const p = parent as Record<string | number, Json>;
  const op = r.pick(["delete", "set", "set", "set", "add"] as const);
  if (op === "delete") {
    if (Array.isArray(p)) p.splice(Number(key), 1);
    else delete p[key];
    return { value, what: `delete ${path.join(".")}` };
  }
  if (op === "add" && p && typeof p === "object" && !Array.isArray(p)) {
    p[r.pick(["__proto__", "constructor", "extra", "💥", "a".repeat(300)])] = weird(r);
    return { value, what: `add a key under ${parentPath.join(".") || "(root)"}` };
  }
  p[key] = weird(r);
  return { value, what: `set ${path.join(".")}` };
}
