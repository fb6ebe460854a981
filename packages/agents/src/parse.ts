import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AgentDefinitionError } from "./errors.js";

/** One agent in the Claude Code subagent format: YAML frontmatter plus a Markdown system prompt. */
export interface AgentDefinition {
  /** The role's name, e.g. `tech-lead`; a user's file with the same name replaces the project's. */
  name: string;
  description: string;
  /** Tool names; empty when the file lists none (Claude Code then allows all tools). */
  tools: string[];
  /** `opus`, `sonnet`, a full model id, or absent to inherit. */
  model?: string;
  /**
   * `effort: low | medium | high | xhigh | max`: the agent thinks (adaptive thinking) at this effort. Absent: no
   * thinking is asked for (the model's default). MLLEAD_THINKING can turn it off or set it for every agent.
   */
  effort?: Effort;
  /** The body after the frontmatter, trimmed. */
  systemPrompt: string;
  /** Where it was loaded from. */
  path: string;
}

/** The effort levels of the Messages API (`output_config.effort`). */
export const EFFORT_LEVELS = ["low", "medium", "high", "xhigh", "max"] as const;
export type Effort = (typeof EFFORT_LEVELS)[number];

// Claude Code accepts `tools` as "Read, Write" or as a YAML list; both become a list here.
const Tools = z
  .union([z.string(), z.array(z.string())])
  .transform((t) => (Array.isArray(t) ? t : t.split(",")).map((s) => s.trim()).filter((s) => s.length > 0));

/** The frontmatter fields we use; other keys (color, …) are allowed and ignored. */
const AgentFrontmatter = z.object({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9][a-z0-9-]*$/, "name must be lower-case letters, digits and '-'"),
  description: z.string().trim().min(1, "description must not be empty").max(4000),
  tools: Tools.optional(),
  model: z.string().trim().min(1).max(100).optional(),
  effort: z.enum(EFFORT_LEVELS).optional(),
});

const FRONTMATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/;

/** Parses the text of an agent file; `path` only labels errors and the result. */
export function parseAgentMarkdown(text: string, path: string): AgentDefinition {
  const m = FRONTMATTER.exec(text);
  if (!m) {
    throw new AgentDefinitionError("agent_frontmatter_missing", path, "expected YAML frontmatter between '---' lines at the top");
  }
  let raw: unknown;
  try {
    raw = parseYaml(m[1] ?? "");
  } catch (err) {
    throw new AgentDefinitionError(
      "agent_frontmatter_invalid",
      path,
      `frontmatter is not valid YAML: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const fm = AgentFrontmatter.safeParse(raw ?? {});
  if (!fm.success) {
    const detail = fm.error.issues.map((i) => `${i.path.join(".") || "frontmatter"}: ${i.message}`).join("; ");
    throw new AgentDefinitionError("agent_frontmatter_invalid", path, `invalid frontmatter (${detail})`);
  }
  const systemPrompt = (m[2] ?? "").trim();
  if (systemPrompt.length === 0) {
    throw new AgentDefinitionError("agent_prompt_empty", path, "the system prompt (the text after the frontmatter) is empty");
  }
  return {
    name: fm.data.name,
    description: fm.data.description,
    tools: fm.data.tools ?? [],
    ...(fm.data.model !== undefined ? { model: fm.data.model } : {}),
    ...(fm.data.effort !== undefined ? { effort: fm.data.effort } : {}),
    systemPrompt,
    path,
  };
}
