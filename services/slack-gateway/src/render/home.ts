import type { AgentDefinition } from "@mllead/agents";
import type { RunnerHeartbeat, StatusReply, TaskView } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import { context, divider, esc, fitBlocks, header, section, sections, truncate } from "./blocks.js";
import { renderRunners } from "./commands.js";
import { statusLine } from "./status.js";

/** What the Home tab shows: the person's tasks, the runners, and how mllead is set up here. */
export interface HomeData {
  status: StatusReply | null;
  runners: readonly RunnerHeartbeat[];
  agents: readonly AgentDefinition[];
  /** Commands as listed by `/mllead help`. */
  commands: readonly { name: string; what: string }[];
  now: Date;
}

function brainOf(views: readonly TaskView[]): string {
  const brain = views.find((v) => v.brain)?.brain;
  if (brain === "anthropic") return "Claude (the tech lead plans and summarises, the reviewer judges with Claude)";
  if (brain === "offline") return "offline — deterministic, no Claude key set; every message it writes says so";
  return "not known until the first plan";
}

/** The app's Home tab for one person. */
export function renderHome(d: HomeData): types.HomeView {
  const tasks: types.KnownBlock[] = [];
  if (!d.status) {
    tasks.push(section("*Your tasks*\nThe tech lead did not answer just now; open this tab again in a moment."));
  } else if (!d.status.ok) {
    tasks.push(section(`*Your tasks*\nThe tech lead could not list them: ${esc(d.status.error.message)}`));
  } else {
    tasks.push(
      ...sections(
        d.status.active.length
          ? `*Your active tasks (${d.status.active.length})*\n${d.status.active.map(statusLine).join("\n")}`
          : "*Your active tasks*\nNone. Mention @mllead in a channel with an ML task to start one.",
      ),
    );
    if (d.status.recent.length) tasks.push(...sections(`*Recent results*\n${d.status.recent.map(statusLine).join("\n")}`));
  }
  const views = d.status?.ok ? [...d.status.active, ...d.status.recent] : [];
  const agents = d.agents.length
    ? d.agents.map((a) => `\`${esc(a.name)}\` (${esc(a.model ?? "inherit")})`).join(", ")
    : "no agent files found";
  const setup = [
    "*How this workspace is configured*",
    `• *Brain:* ${brainOf(views)}`,
    `• *Agents:* ${agents}`,
    "• *Approval:* the requester or a configured approver — by button, :white_check_mark: reaction or a reply `approve`",
    `• *Commands:* ${d.commands.map((c) => `\`/mllead ${esc(c.name)}\``).join(", ")}`,
    "• *On any message:* More actions → *Ask @mllead*",
  ].join("\n");
  const blocks: types.KnownBlock[] = [
    header("mllead — your ML team's tech lead"),
    context("Mention @mllead with an ML task; it plans, the specialists do the work, the reviewer checks it."),
    divider,
    ...tasks,
    divider,
    ...sections(renderRunners(d.runners)),
    divider,
    ...sections(setup),
    context(
      `Updated ${truncate(
        d.now
          .toISOString()
          .replace("T", " ")
          .replace(/\.\d+Z$/, "Z"),
        40,
      )}`,
    ),
  ];
  return { type: "home", callback_id: "mllead_home", blocks: fitBlocks(blocks, 100) };
}
