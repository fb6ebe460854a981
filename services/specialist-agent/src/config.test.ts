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
    // Worktrees live in the user's state directory, outside any checkout.
    const settings = settingsFromEnv(c, { HOME: "/home/ada" });
    expect(settings.workspaceDir).toBe("/home/ada/.local/state/mllead/workspaces");
    expect(settingsFromEnv(c, { XDG_STATE_HOME: "/var/state" }).stateDir).toBe("/var/state/mllead");
    expect(settings.repo).toBeUndefined();
    expect(settings.sandbox).toMatchObject({ mode: "auto", network: false });
    expect(brainKind(c)).toBe("offline");
    expect(settingsFromEnv(c, {}).tools.commandTimeoutSec).toBe(300);
  });

  it("reads how much of a task's uncommitted files travel between steps: 1 GiB in all, 512 MiB a file by default", () => {
    expect(settingsFromEnv(parse({}), {}).taskFiles).toEqual({ maxBytes: 1024 * 1024 * 1024, maxFileBytes: 512 * 1024 * 1024 });
    const c = parse({ MLLEAD_TASK_FILES_MAX_MB: "0", MLLEAD_TASK_FILES_MAX_FILE_MB: "3" });
    expect(settingsFromEnv(c, {}).taskFiles).toEqual({ maxBytes: 0, maxFileBytes: 3 * 1024 * 1024 });
    expect(() => parse({ MLLEAD_TASK_FILES_MAX_MB: "lots" })).toThrow(/MLLEAD_TASK_FILES_MAX_MB/);
  });

  it("reads a role list and picks the anthropic brain when a key is set", () => {
    const c = parse({ MLLEAD_ROLES: "analyst, code-reviewer", ANTHROPIC_API_KEY: "sk-ant-x", MLLEAD_STEP_CONCURRENCY: "3" });
    expect(c.MLLEAD_ROLES).toEqual(["analyst", "code-reviewer"]);
    expect(c.MLLEAD_STEP_CONCURRENCY).toBe(3);
    expect(brainKind(c)).toBe("anthropic");
    expect(brainKind({ ...c, MLLEAD_BRAIN: "offline" })).toBe("offline");
  });

  it("reads the team's repository, push remote, data dirs and sandbox settings", () => {
    const c = parse({
      MLLEAD_REPO: "git@example.com:team/ml.git",
      MLLEAD_PUSH_REMOTE: "origin",
      MLLEAD_DATA_DIRS: "/data/a, /data/b",
      MLLEAD_SANDBOX_NETWORK: "1",
      MLLEAD_SANDBOX_MEMORY_MB: "1024",
    });
    const s = settingsFromEnv(c, { HOME: "/home/ada" });
    expect(s).toMatchObject({ repo: "git@example.com:team/ml.git", pushRemote: "origin", dataDirs: ["/data/a", "/data/b"] });
    expect(s.sandbox).toMatchObject({ network: true, limits: { memoryBytes: 1024 * 1024 * 1024 } });
    expect(() => parse({ MLLEAD_SANDBOX: "docker" })).toThrow(/MLLEAD_SANDBOX/);
  });

  it("leaves the offline brain's work on a team's repository uncommitted unless MLLEAD_OFFLINE_COMMIT=1", () => {
    expect(settingsFromEnv(parse({}), {}).offlineCommit).toBe(false);
    expect(settingsFromEnv(parse({ MLLEAD_OFFLINE_COMMIT: "1" }), {}).offlineCommit).toBe(true);
    expect(() => parse({ MLLEAD_OFFLINE_COMMIT: "yes" })).toThrow(/MLLEAD_OFFLINE_COMMIT/);
  });

  it("gives commands only PATH, HOME, TMPDIR, LANG, LC_* and the MLLEAD_SANDBOX_ENV names: no DATABASE_URL or MLFLOW_TRACKING_URI", () => {
    const service = {
      PATH: "/usr/bin:/bin",
      HOME: "/home/ada",
      XDG_STATE_HOME: "/var/state",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      DATABASE_URL: "postgres://ml:hunter2@db:5432/ml",
      MLFLOW_TRACKING_URI: "https://ml:hunter2@mlflow.example",
      MLLEAD_TEST_CANARY: "canary",
      ANTHROPIC_API_KEY: "sk-ant-x",
      SEED: "42",
      WANDB_API_KEY: "wandb-1",
      MLLEAD_SANDBOX_ENV: "SEED, WANDB_API_KEY",
      MLLEAD_BWRAP: "/opt/bwrap",
    };
    const c = parse(service);
    expect(c.MLLEAD_SANDBOX_ENV).toEqual(["SEED", "WANDB_API_KEY"]);
    const s = settingsFromEnv(c, service);
    // The team listed WANDB_API_KEY, so it passes though it looks secret; nothing else of the service does.
    expect(s.tools.baseEnv).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/ada",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      SEED: "42",
      WANDB_API_KEY: "wandb-1",
    });
    // The whole environment still decides the service's own settings.
    expect(s.stateDir).toBe("/var/state/mllead");
    expect(s.sandbox).toMatchObject({ bwrap: "/opt/bwrap", passEnv: ["SEED", "WANDB_API_KEY"] });
    expect(() => parse({ MLLEAD_SANDBOX_ENV: "SEED,not a name" })).toThrow(/MLLEAD_SANDBOX_ENV/);
  });

  it("names the variable that is wrong", () => {
    expect(() => parse({ MLLEAD_ROLES: "data-engineer,chef" })).toThrow(/MLLEAD_ROLES/);
    expect(() => parse({ MLLEAD_BRAIN: "claude" })).toThrow(/MLLEAD_BRAIN/);
  });
});
