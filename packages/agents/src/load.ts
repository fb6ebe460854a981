import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentDefinitionError } from "./errors.js";
import { type AgentDefinition, parseAgentMarkdown } from "./parse.js";

/** The repository root (this file lives in `packages/agents/src/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The project's own agent definitions: `<repo>/agents`. */
export const PROJECT_AGENTS_DIR = join(REPO_ROOT, "agents");

/** Reads and validates one agent file. Throws AgentDefinitionError naming the file. */
export async function loadAgentFile(path: string): Promise<AgentDefinition> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AgentDefinitionError("agent_file_unreadable", path, `cannot read the file (${(err as Error).message})`, {
      cause: err,
    });
  }
  return parseAgentMarkdown(text, path);
}

/** Loads every `*.md` file of a directory (sorted by file name); two files with the same `name` are an error. */
export async function loadAgentDir(dir: string): Promise<AgentDefinition[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith(".md") && e.name.toLowerCase() !== "readme.md")
      .map((e) => e.name)
      .sort();
  } catch (err) {
    throw new AgentDefinitionError("agent_dir_unreadable", dir, `cannot read the directory (${(err as Error).message})`, {
      cause: err,
    });
  }
  const agents: AgentDefinition[] = [];
  const seen = new Map<string, string>();
  for (const name of entries) {
    const agent = await loadAgentFile(join(dir, name));
    const first = seen.get(agent.name);
    if (first) {
      throw new AgentDefinitionError("agent_duplicate_name", agent.path, `agent '${agent.name}' is already defined in ${first}`);
    }
    seen.set(agent.name, agent.path);
    agents.push(agent);
  }
  return agents;
}

/** Options of `loadAgents`. */
interface LoadAgentsOptions {
  /** A user's directory of agent files; each replaces the project's agent with the same `name` (or adds a new one). */
  dir?: string;
  /** The project's directory; defaults to `<repo>/agents`. */
  projectDir?: string;
}

/** The project's agents with the user's overrides applied, keyed by agent name. */
export async function loadAgents(opts: LoadAgentsOptions = {}): Promise<Map<string, AgentDefinition>> {
  const byName = new Map<string, AgentDefinition>();
  for (const a of await loadAgentDir(opts.projectDir ?? PROJECT_AGENTS_DIR)) byName.set(a.name, a);
  if (opts.dir !== undefined) {
    for (const a of await loadAgentDir(opts.dir)) byName.set(a.name, a);
  }
  return byName;
}
