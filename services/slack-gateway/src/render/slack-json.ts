import { z } from "zod";

/** JSON text, parsed: text that is not JSON is an issue like any other, so a caller sees one kind of failure. */
const JsonText = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text);
  } catch (err) {
    ctx.issues.push({ code: "custom", message: `not JSON: ${(err as Error).message}`, input: text });
    return z.NEVER;
  }
});

/**
 * Reads JSON the gateway wrote into a Slack payload — a button's `value`, a modal's `private_metadata` — checked
 * with `schema`: the value, or null when `raw` is missing, not JSON or not of that shape. Slack hands these back
 * and anyone who can click can send any string, so a value that is not ours is nothing, never an error.
 */
export function parseSlackJson<S extends z.ZodType>(schema: S, raw: string | undefined): z.output<S> | null {
  if (!raw) return null;
  const parsed = JsonText.pipe(schema).safeParse(raw);
  return parsed.success ? parsed.data : null;
}
