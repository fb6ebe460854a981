import type { Bus } from "@mllead/bus";
import { StatusQuery, StatusReply, SUBJECTS } from "@mllead/contracts";
import type { Logger } from "pino";
import { renderStatusReply } from "./render/status.js";

/** The sub-commands of `/mllead`, as listed to people. */
export const SLASH_COMMANDS: readonly { name: string; what: string }[] = [
  { name: "status", what: "the active tasks: state, steps done, link to the thread" },
  { name: "help", what: "how to work with @mllead" },
];

const commandList = SLASH_COMMANDS.map((c) => `• \`/mllead ${c.name}\` — ${c.what}`).join("\n");

/** What `/mllead help` and an empty mention answer. */
export const HELP_TEXT = [
  "*@mllead is your ML team's tech lead.* Mention it with a task, e.g. `@mllead train a churn baseline on the events table`.",
  "It replies in the thread with a plan (steps for the data-engineer, ml-engineer, analyst and code-reviewer).",
  "Approve with the *Approve* button, a :white_check_mark: reaction or a reply `approve`; reply `changes: …` to revise it or `cancel` to stop.",
  "Progress, training jobs, the reviewer's verdict and a summary then appear in the same thread.",
  "",
  `*Commands*\n${commandList}`,
].join("\n");

/** How long `/mllead status` waits for the tech lead (ms): Slack needs the answer within 3 s. */
const STATUS_TIMEOUT_MS = 2000;

/** The text answering `/mllead <text>`. Never throws: every failure becomes a sentence. */
export async function answerSlashCommand(text: string, deps: { bus: Bus; log: Logger }): Promise<string> {
  const sub = text.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  switch (sub) {
    case "":
    case "help":
      return HELP_TEXT;
    case "status":
      try {
        const reply = await deps.bus.request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1 }, STATUS_TIMEOUT_MS);
        return renderStatusReply(reply);
      } catch (err) {
        deps.log.warn({ err }, "status query failed");
        return "I could not get the status: the tech lead did not answer in time. It may be starting or busy; try again in a moment.";
      }
    default:
      return `I don't know the command \`${sub.slice(0, 40).replace(/[`<>&]/g, "")}\`. Try one of:\n${commandList}`;
  }
}
