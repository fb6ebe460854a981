import type { SandboxMessage } from "@mllead/slack-sandbox";

/** The key the gateway stored in a message's metadata: an event id, `card:<task>` or `job:<job>`. */
export function postKey(m: SandboxMessage): string {
  return String(m.metadata?.event_payload?.event_id ?? "");
}

/**
 * What kind of message this is, read from its metadata: `card`, `job`, or the
 * event type that produced it (`task.planned`, `step.completed`, …).
 */
export function kindOf(m: SandboxMessage): string {
  const key = postKey(m);
  if (key.startsWith("card:")) return "card";
  if (key.startsWith("job:")) return "job";
  const specialist = /^(step\.[a-z_]+):/.exec(key);
  if (specialist) return specialist[1] as string;
  return key.split(".").slice(-2).join(".");
}

/** The text a person reads: the fallback text and every block's text. */
export function visibleText(m: SandboxMessage): string {
  return [m.text, JSON.stringify(m.blocks ?? [])].join("\n");
}

/** Messages the bot posted in the thread (the root mention excluded). */
export function botMessages(thread: SandboxMessage[]): SandboxMessage[] {
  return thread.filter((m) => m.bot_id !== undefined);
}
