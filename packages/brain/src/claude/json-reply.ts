/** A model's reply read as JSON: the value, or what is wrong with it (for the repair request and the log). */
type JsonReply = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses a reply that should be one JSON object. Not JSON is an answer to repair, not an error: the caller
 * hands `problem` back to the model in its next round.
 */
export function parseJsonReply(text: string): JsonReply {
  if (!text) return { ok: false, problem: "an empty answer" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, problem: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}
