import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

let known: ReadonlySet<string> | undefined;

/**
 * The model ids of the installed SDK's `Model` union (`resources/messages/messages.ts`), which lists the models the
 * API serves. The SDK has no runtime list, so the union's string literals are read from its source (or its `.d.ts`).
 */
export function sdkModels(): ReadonlySet<string> {
  if (known) return known;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@anthropic-ai/sdk"));
  const file = ["src/resources/messages/messages.ts", "resources/messages/messages.d.ts"]
    .map((f) => join(root, f))
    .find((f) => existsSync(f));
  if (!file) throw new Error(`fake-anthropic: no Model union found in the SDK at ${root}`);
  const source = readFileSync(file, "utf8");
  const union = /export (?:declare )?type Model =([^;]+);/.exec(source)?.[1] ?? "";
  const ids = [...union.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);
  if (ids.length === 0) throw new Error(`fake-anthropic: the Model union in ${file} lists no model ids`);
  known = new Set(ids);
  return known;
}

/** The most output tokens a request may ask of `model` (the API rejects a larger `max_tokens`). */
export function maxOutputTokens(model: string): number {
  if (/haiku|sonnet/.test(model)) return 64_000;
  return 128_000;
}

/**
 * The shortest prefix the API caches for `model`, in tokens, by family as Anthropic's prompt-caching guide lists
 * it: 4,096 for Claude Opus 4.5–4.7, Haiku 4.5 and Mythos Preview; 2,048 for the Haiku 3 models; 1,024 for the
 * others (Opus 4.8, Opus 4 and 4.1, the Sonnet 4 models; the Claude 5 models, which the guide this fake was
 * written against does not list, are held to the same 1,024). A shorter prefix is answered without caching.
 */
export function minCacheTokens(model: string): number {
  const id = model.replace(/-\d{8}$/, "");
  if (/^claude-(opus-4-[567]|haiku-4-5|mythos-preview)$/.test(id)) return 4096;
  if (/^claude-3(-5)?-haiku|^claude-haiku-3/.test(id)) return 2048;
  return 1024;
}

/** The context window, in tokens: a longer prompt is rejected with "prompt is too long". */
export const CONTEXT_WINDOW = 200_000;
