import { DeadQuery, DeadReply, SUBJECTS } from "@mllead/contracts";
import { renderDeadReply } from "../render/dead-letters.js";
import type { CommandDeps, SlashCaller } from "./command-deps.js";

/** How long `/mllead dead` waits for the tech lead (ms): Slack needs the answer within 3 s. */
const DEAD_TIMEOUT_MS = 2000;

const USAGE =
  "`/mllead dead` lists what was set aside; `/mllead dead show <seq>` shows one, `replay <seq>` sends it again, `drop <seq>` removes it (approvers only).";

/**
 * `/mllead dead [list | show <seq> | replay <seq> | drop <seq>]`: asks the tech lead over `mllead.q.dead`,
 * naming the caller; the tech lead lets approvers only. Never throws: every failure is a sentence.
 */
export async function answerDead(args: readonly string[], deps: CommandDeps, caller: SlashCaller): Promise<string> {
  const [verb = "list", target = "", ...extra] = args.map((a) => a.replace(/^`|`$/g, ""));
  const action = verb.toLowerCase();
  if (action !== "list" && action !== "show" && action !== "replay" && action !== "drop")
    return `I don't know \`dead ${verb.slice(0, 20).replace(/[`<>&]/g, "")}\`. ${USAGE}`;
  if (!caller.userId) return "I could not tell who asked; dead letters are for approvers only.";
  const seqText = target.replace(/^#/, "");
  if (action !== "list" && (!/^\d{1,15}$/.test(seqText) || Number(seqText) < 1 || extra.length > 0)) {
    return `Say which entry by its number as \`/mllead dead\` lists it (e.g. \`/mllead dead ${action} 12\`). ${USAGE}`;
  }
  const query: DeadQuery = {
    v: 1,
    via: "slack",
    userId: caller.userId.slice(0, 100),
    action,
    limit: 10,
    ...(action !== "list" ? { seq: Number(seqText) } : {}),
  };
  try {
    const reply = await deps.bus.request(SUBJECTS.deadQuery, DeadQuery, DeadReply, query, DEAD_TIMEOUT_MS);
    return renderDeadReply(reply);
  } catch (err) {
    deps.log.warn({ err, action }, "dead-letter query failed");
    return "I could not reach the dead letters: the tech lead did not answer in time. It may be starting or busy; try again in a moment.";
  }
}
