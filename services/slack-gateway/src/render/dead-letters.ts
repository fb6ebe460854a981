import type { DeadEntry, DeadReply } from "@mllead/contracts";
import { esc, truncate } from "./blocks.js";

/** One entry as `/mllead dead` lists it. */
function entryLine(e: DeadEntry): string {
  const cut = e.truncatedFrom ? ` (cut from ${e.truncatedFrom} B)` : "";
  return `• \`#${e.seq}\` ${e.at.slice(0, 19).replace("T", " ")} · \`${esc(e.consumer)}\` · \`${esc(e.subject)}\` · *${esc(e.code)}* · ${e.size} B${cut}\n    ${esc(truncate(e.reason, 200))}`;
}

/** The answer to `/mllead dead [list | show <seq> | replay <seq> | drop <seq>]` (Slack mrkdwn, shown ephemerally). */
export function renderDeadReply(reply: DeadReply): string {
  if (!reply.ok) return `I could not do that: ${esc(reply.error.message)}.`;
  switch (reply.action) {
    case "list": {
      if (reply.entries.length === 0) return "*Dead letters:* none. Nothing was set aside.";
      const more = reply.nextBefore ? `\nOlder ones: \`pnpm dead list --before ${reply.nextBefore}\` on the server.` : "";
      return `*Dead letters* (${reply.total} in all, newest first):\n${reply.entries.map(entryLine).join("\n")}\n\`/mllead dead show <seq>\` shows one; \`replay <seq>\` sends it again, \`drop <seq>\` removes it.${more}`;
    }
    case "show": {
      const e = reply.entry;
      const tries = e.deliveries ? ` after ${e.deliveries} deliveries` : "";
      // The payload sits in a code block: a backtick run in it must not close the block.
      const payload = e.payload.replace(/```/g, "`\u200b``");
      return `${entryLine(e)}\nSet aside${tries}; msg id \`${esc(e.msgId ?? "-")}\`.\n\`\`\`${esc(payload)}\`\`\`${e.cut ? "\n_(cut for showing)_" : ""}`;
    }
    case "replay":
      return `Replayed \`#${reply.seq}\` to \`${esc(reply.subject ?? "")}\` as \`${esc(reply.msgId ?? "")}\`: its consumer handles it again with all its checks, and the entry is gone.`;
    case "drop":
      return `Dropped \`#${reply.seq}\` from the dead letters.`;
    default: {
      const never: never = reply;
      return never;
    }
  }
}
