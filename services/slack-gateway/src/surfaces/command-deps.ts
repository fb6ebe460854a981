import type { Bus } from "@mllead/bus";
import type { Logger } from "pino";
import type { SlackStore } from "../store.js";

/** Who ran a slash command, and where: `/mllead status` shows them that channel's tasks and their own. */
export interface SlashCaller {
  channel?: string;
  userId?: string;
  /** Slack's id of this invocation (makes a cancel from it count once). */
  triggerId?: string;
}

/** What the commands read: NATS (status, jobs, runners, cancel), the gateway's links, the agent files. */
export interface CommandDeps {
  bus: Bus;
  log: Logger;
  store?: SlackStore;
  /** MLLEAD_AGENTS_DIR: agent files that replace the project's by name. */
  agentsDir?: string;
  now?: () => Date;
}
