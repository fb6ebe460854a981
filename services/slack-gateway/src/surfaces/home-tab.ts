import type { Bus } from "@mllead/bus";
import { StatusQuery, StatusReply, SUBJECTS } from "@mllead/contracts";
import type { App } from "@slack/bolt";
import type { Logger } from "pino";
import { renderHome } from "../render/home.js";
import { readAgents, readRunners } from "../workspace-info.js";
import { SLASH_COMMANDS } from "./commands.js";

/** How long the Home tab waits for the tech lead's status (ms). */
const HOME_STATUS_TIMEOUT_MS = 2000;

/** The App Home tab: the person's tasks, the runners and their GPUs, the agents and the setup. */
export function registerHomeTab(app: App, deps: { bus: Bus; log: Logger; agentsDir?: string; now?: () => Date }): void {
  const now = deps.now ?? (() => new Date());
  app.event("app_home_opened", async ({ event, client }) => {
    if (event.tab !== "home") return;
    const user = event.user;
    const status = await deps.bus
      .request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1, userId: user, recent: 5 }, HOME_STATUS_TIMEOUT_MS)
      .catch((err: unknown) => {
        deps.log.warn({ err }, "status query for the Home tab failed");
        return null;
      });
    const [runners, agents] = await Promise.all([
      readRunners(deps.bus, deps.log).catch((err: unknown) => {
        deps.log.warn({ err }, "could not read the runners for the Home tab");
        return [];
      }),
      readAgents(deps.agentsDir).catch((err: unknown) => {
        deps.log.warn({ err }, "could not read the agent files for the Home tab");
        return [];
      }),
    ]);
    await client.views.publish({
      user_id: user,
      view: renderHome({ status, runners, agents, commands: SLASH_COMMANDS, now: now() }),
    });
  });
}
