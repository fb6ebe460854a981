import { LessonsQuery, LessonsReply, SUBJECTS } from "@mllead/contracts";
import { renderLessonsReply } from "../render/lessons.js";
import type { CommandDeps, SlashCaller } from "./command-deps.js";

/** How long `/mllead lessons` waits for the tech lead (ms): Slack needs the answer within 3 s. */
const LESSONS_TIMEOUT_MS = 2000;

const USAGE = "`/mllead lessons` lists this channel's lessons; `/mllead lessons forget <number or id>` forgets one.";

/**
 * `/mllead lessons [forget <n|id>]`: asks the tech lead over `mllead.q.lessons` for the lessons of
 * the channel the command was run in (or to forget one of them). Never throws.
 */
export async function answerLessons(args: readonly string[], deps: CommandDeps, caller: SlashCaller): Promise<string> {
  if (!caller.channel) return "Run `/mllead lessons` in a channel: lessons are kept per channel.";
  const [verb = "", target = ""] = args.map((a) => a.replace(/^`|`$/g, ""));
  if (verb !== "" && verb.toLowerCase() !== "forget")
    return `I don't know \`lessons ${verb.slice(0, 20).replace(/[`<>&]/g, "")}\`. ${USAGE}`;
  if (verb !== "" && !/^(#?\d{1,3}|[Ll]\d{1,6})$/.test(target)) {
    return `Say which lesson to forget: its number or id as \`/mllead lessons\` lists them. ${USAGE}`;
  }
  const query: LessonsQuery = {
    v: 1,
    channel: caller.channel.slice(0, 100),
    ...(caller.userId ? { userId: caller.userId.slice(0, 100) } : {}),
    ...(verb !== "" ? { forget: target.replace(/^#/, "") } : {}),
  };
  try {
    const reply = await deps.bus.request(SUBJECTS.lessonsQuery, LessonsQuery, LessonsReply, query, LESSONS_TIMEOUT_MS);
    return renderLessonsReply(reply);
  } catch (err) {
    deps.log.warn({ err }, "lessons query failed");
    return "I could not get the lessons: the tech lead did not answer in time. It may be starting or busy; try again in a moment.";
  }
}
