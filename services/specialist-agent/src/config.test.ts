import { brainKind } from "@mllead/brain";
import { BaseConfig, loadConfig } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { SpecialistEnv, settingsFromEnv } from "./config.js";

// The way runService parses it: BaseConfig extended with the service's shape.
const parse = (env: Record<string, string>) => loadConfig(BaseConfig.extend(SpecialistEnv.shape), env);

describe("specialist config", () => {
  it("defaults to all four roles, one step at a time, the offline brain without a key", () => {
    const c = parse({});
    expect(c.MLLEAD_ROLES).toEqual(["data-engineer", "ml-engineer", "analyst", "code-reviewer"]);
    expect(c.MLLEAD_STEP_CONCURRENCY).toBe(1);
    expect(c.MLLEAD_WORKSPACE_DIR).toBe(".mllead/workspaces");
    expect(brainKind(c)).toBe("offline");
    expect(settingsFromEnv(c, {}).tools.commandTimeoutSec).toBe(300);
  });

  it("reads a role list and picks the anthropic brain when a key is set", () => {
    const c = parse({ MLLEAD_ROLES: "analyst, code-reviewer", ANTHROPIC_API_KEY: "sk-ant-x", MLLEAD_STEP_CONCURRENCY: "3" });
    expect(c.MLLEAD_ROLES).toEqual(["analyst", "code-reviewer"]);
    expect(c.MLLEAD_STEP_CONCURRENCY).toBe(3);
    expect(brainKind(c)).toBe("anthropic");
    expect(brainKind({ ...c, MLLEAD_BRAIN: "offline" })).toBe("offline");
  });

  it("names the variable that is wrong", () => {
    expect(() => parse({ MLLEAD_ROLES: "data-engineer,chef" })).toThrow(/MLLEAD_ROLES/);
    expect(() => parse({ MLLEAD_BRAIN: "claude" })).toThrow(/MLLEAD_BRAIN/);
  });
});
