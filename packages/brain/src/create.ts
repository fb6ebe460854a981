import { loadAgents } from "@mllead/agents";
import type { BrainKind } from "@mllead/contracts";
import type { Logger } from "pino";
import type { StepLoopLimits } from "./claude/step-limits.js";
import type { ThinkingSetting } from "./claude/thinking.js";
import { BrainUnavailableError } from "./errors.js";
import { createOfflineBrain } from "./offline/brain.js";
import type { Brain } from "./types.js";

/** Options of `createBrain`. */
interface CreateBrainOptions {
  kind: BrainKind;
  log: Logger;
  /** A user's directory of agent definitions overriding the project's `agents/` (used by the Claude brain). */
  agentsDir?: string;
  /** Where the shipped job scripts live; defaults to `<repo>/jobs`. */
  jobsDir?: string;
  /** Required for `kind: "anthropic"`. */
  anthropic?: {
    apiKey: string;
    /** ANTHROPIC_BASE_URL */
    baseURL?: string;
    /** MLLEAD_CLAUDE_MODEL: one model id for every agent. */
    model?: string;
    /** Limits of each specialist step's tool loop. */
    stepLimits?: Partial<StepLoopLimits>;
    /** MLLEAD_THINKING: `agents` (the agent files' `effort:`; default), `off`, or an effort level for every agent. */
    thinking?: ThinkingSetting;
  };
}

/** The brain for a configuration: offline (deterministic, no key) or Claude. */
export async function createBrain(opts: CreateBrainOptions): Promise<Brain> {
  switch (opts.kind) {
    case "offline":
      return createOfflineBrain({ log: opts.log, ...(opts.jobsDir !== undefined ? { jobsDir: opts.jobsDir } : {}) });
    case "anthropic": {
      if (!opts.anthropic?.apiKey) {
        throw new BrainUnavailableError("MLLEAD_BRAIN=anthropic needs ANTHROPIC_API_KEY; set it, or use MLLEAD_BRAIN=offline");
      }
      const agents = await loadAgents(opts.agentsDir !== undefined ? { dir: opts.agentsDir } : {});
      // Loaded here, not at the top: an offline service never loads the Anthropic SDK (about 9 MB of memory).
      const [{ createClaudeBrain }, { createClaudeClient }] = await Promise.all([
        import("./claude/brain.js"),
        import("./claude/client.js"),
      ]);
      return createClaudeBrain({
        client: createClaudeClient({
          apiKey: opts.anthropic.apiKey,
          ...(opts.anthropic.baseURL ? { baseURL: opts.anthropic.baseURL } : {}),
        }),
        agents,
        log: opts.log,
        ...(opts.anthropic.model ? { model: opts.anthropic.model } : {}),
        ...(opts.anthropic.stepLimits ? { stepLimits: opts.anthropic.stepLimits } : {}),
        ...(opts.anthropic.thinking ? { thinking: opts.anthropic.thinking } : {}),
      });
    }
    default: {
      const never: never = opts.kind;
      throw new BrainUnavailableError(`unknown brain kind '${String(never)}'`);
    }
  }
}
