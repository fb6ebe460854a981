import type { Effort } from "@mllead/agents";

/** How a call thinks: adaptive thinking at an effort (Claude decides when and how much to think). */
export interface Thinking {
  effort: Effort;
}

/**
 * MLLEAD_THINKING: `agents` (each agent file's `effort:` decides; the default), `off` (no thinking and no
 * effort sent anywhere, for a model without adaptive thinking), or an effort level that every agent uses.
 */
export type ThinkingSetting = "agents" | "off" | Effort;

/** The thinking of an agent under the setting: its file's `effort`, the setting's level, or none. */
export function thinkingFor(agentEffort: Effort | undefined, setting: ThinkingSetting = "agents"): Thinking | undefined {
  if (setting === "off") return undefined;
  if (setting !== "agents") return { effort: setting };
  return agentEffort ? { effort: agentEffort } : undefined;
}

/**
 * The request fields for `thinking`: `thinking: {type: "adaptive"}` with `output_config.effort`, or nothing
 * (the model's default). Thinking blocks come back in the replies; the tool runner sends them back with the
 * assistant turns, as the API requires while tools are in use.
 */
export function thinkingParams(thinking: Thinking | undefined): {
  thinking?: { type: "adaptive" };
  output_config?: { effort: Effort };
} {
  return thinking ? { thinking: { type: "adaptive" }, output_config: { effort: thinking.effort } } : {};
}
