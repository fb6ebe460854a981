import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentDefinitionError } from "./errors.js";
import { loadAgentDir, loadAgentFile, loadAgents, PROJECT_AGENTS_DIR, REPO_ROOT } from "./load.js";

const FIXTURES = resolve(REPO_ROOT, "packages/agents/fixtures");
// The document the project was created from, byte for byte (a team may drop it in as it is). Where the
// shared folder sits beside the checkout (CI), the original is read; elsewhere the committed copy.
const SHARED_SEED = resolve(REPO_ROOT, "../shared/seed/tech-lead.md");
const SEED = existsSync(SHARED_SEED) ? SHARED_SEED : join(FIXTURES, "seed/tech-lead.md");

describe("loadAgentFile", () => {
  it("loads a file shaped like the seed: quoted description with colons, model opus, no tools", async () => {
    const a = await loadAgentFile(join(FIXTURES, "seed-shaped.md"));
    expect(a.name).toBe("tech-lead");
    expect(a.description).toBe(
      "Use this agent when a plan is needed: for example: a new pipeline, a regression triage: anything with steps. Colons: everywhere.",
    );
    expect(a.model).toBe("opus");
    expect(a.tools).toEqual([]);
    expect(a.systemPrompt.startsWith("You are a test lead.")).toBe(true);
    expect(a.systemPrompt).toContain("Body text kept as the system prompt.");
    expect(a.path).toBe(join(FIXTURES, "seed-shaped.md"));
  });

  it("loads the real seed file as it is", async () => {
    const a = await loadAgentFile(SEED);
    expect(a.name).toBe("tech-lead");
    expect(a.model).toBe("opus");
    expect(a.tools).toEqual([]);
    expect(a.description).toContain("For example:");
    expect(a.systemPrompt).toContain("## Delegation Format");
  });

  it("accepts tools as a list or as a comma-separated string", async () => {
    const list = await loadAgentFile(join(FIXTURES, "override/tech-lead.md"));
    expect(list.tools).toEqual(["Read", "Grep"]);
    const csv = await loadAgentFile(join(FIXTURES, "override/security-reviewer.md"));
    expect(csv.tools).toEqual(["Read", "Grep", "Glob"]);
    expect(csv.model).toBeUndefined();
  });
});

describe("invalid agent files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "agents-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function failure(content: string): Promise<AgentDefinitionError> {
    const file = join(dir, "bad.md");
    await writeFile(file, content);
    const err = await loadAgentFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentDefinitionError);
    const e = err as AgentDefinitionError;
    expect(e.file).toBe(file);
    expect(e.message).toContain(file);
    return e;
  }

  it("names a missing frontmatter", async () => {
    expect((await failure("# just markdown\n")).code).toBe("agent_frontmatter_missing");
  });

  it("names broken YAML", async () => {
    expect((await failure("---\nname: [unclosed\n---\nbody\n")).code).toBe("agent_frontmatter_invalid");
  });

  it("names the missing field", async () => {
    const e = await failure("---\nname: analyst\n---\nbody\n");
    expect(e.code).toBe("agent_frontmatter_invalid");
    expect(e.message).toContain("description");
  });

  it("rejects a name that is not kebab-case", async () => {
    const e = await failure("---\nname: Tech Lead\ndescription: x\n---\nbody\n");
    expect(e.code).toBe("agent_frontmatter_invalid");
    expect(e.message).toContain("name");
  });

  it("rejects an effort the Messages API does not know", async () => {
    const e = await failure("---\nname: analyst\ndescription: x\neffort: extreme\n---\nbody\n");
    expect(e.code).toBe("agent_frontmatter_invalid");
    expect(e.message).toContain("effort");
  });

  it("rejects an empty system prompt", async () => {
    expect((await failure("---\nname: analyst\ndescription: x\n---\n\n  \n")).code).toBe("agent_prompt_empty");
  });

  it("reports an unreadable file and duplicate names in a directory", async () => {
    const missing = await loadAgentFile(join(dir, "nope.md")).catch((e: unknown) => e);
    expect((missing as AgentDefinitionError).code).toBe("agent_file_unreadable");
    await writeFile(join(dir, "a.md"), "---\nname: analyst\ndescription: one\n---\nA\n");
    await writeFile(join(dir, "b.md"), "---\nname: analyst\ndescription: two\n---\nB\n");
    const dup = await loadAgentDir(dir).catch((e: unknown) => e);
    expect((dup as AgentDefinitionError).code).toBe("agent_duplicate_name");
    expect((dup as AgentDefinitionError).message).toContain("a.md");
  });
});

describe("loadAgents", () => {
  it("loads the project's five roles by default", async () => {
    const agents = await loadAgents();
    expect([...agents.keys()].sort()).toEqual(["analyst", "code-reviewer", "data-engineer", "ml-engineer", "tech-lead"]);
    for (const a of agents.values()) {
      expect(a.path.startsWith(PROJECT_AGENTS_DIR)).toBe(true);
      expect(a.systemPrompt.length).toBeGreaterThan(200);
    }
    const lead = agents.get("tech-lead");
    // The tech lead plans and the reviewer judges with adaptive thinking; the other roles leave it to the model.
    expect(lead?.effort).toBe("high");
    expect(agents.get("code-reviewer")?.effort).toBe("high");
    expect(agents.get("data-engineer")?.effort).toBeUndefined();
    expect(lead?.systemPrompt).toContain("### Acceptance Criteria");
    expect(lead?.systemPrompt).toContain("never implement");
    const reviewer = agents.get("code-reviewer")?.systemPrompt ?? "";
    for (const pitfall of [
      "leakage",
      "seed",
      "Numerical stability",
      "Memory",
      "Type hints",
      "Documentation",
      "Tests",
      "verdict",
    ]) {
      expect(reviewer).toContain(pitfall);
    }
  });

  it("lets a user's directory replace a role by name and add new ones", async () => {
    const agents = await loadAgents({ dir: join(FIXTURES, "override") });
    expect(agents.get("tech-lead")?.systemPrompt).toBe("You are our team's lead. Always ask for a baseline.");
    expect(agents.get("tech-lead")?.model).toBe("claude-sonnet-4-5");
    expect(agents.get("security-reviewer")?.tools).toEqual(["Read", "Grep", "Glob"]);
    expect(agents.get("ml-engineer")?.path).toBe(join(PROJECT_AGENTS_DIR, "ml-engineer.md"));
  });

  it("accepts the seed dropped into a user's directory as it is", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agents-seed-"));
    try {
      await copyFile(SEED, join(dir, "tech-lead.md"));
      const agents = await loadAgents({ dir });
      expect(agents.get("tech-lead")?.path).toBe(join(dir, "tech-lead.md"));
      expect(agents.get("tech-lead")?.systemPrompt).toContain("You never implement code directly");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
