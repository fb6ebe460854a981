import { describe, expect, it } from "vitest";
import { isSecretName, mergeEnv, sandboxEnv, summarizeSandboxEnv } from "./env.js";

const SERVICE = {
  PATH: "/usr/bin",
  HOME: "/home/u",
  TMPDIR: "/var/tmp",
  LANG: "C.UTF-8",
  LANGUAGE: "en",
  LC_ALL: "C.UTF-8",
  LC_NUMERIC: "de_DE.UTF-8",
  SLACK_BOT_TOKEN: "xoxb-1",
  ANTHROPIC_API_KEY: "sk-ant-1",
  NATS_URL: "nats://x",
  // Credentials in names that look harmless: a deny-list of names lets them through.
  DATABASE_URL: "postgres://ml:hunter2@db:5432/ml",
  MLFLOW_TRACKING_URI: "https://ml:hunter2@mlflow.example",
  MLLEAD_TEST_CANARY: "canary",
  USER: "ml",
  SHELL: "/bin/bash",
  LD_PRELOAD: "/opt/evil.so",
  WANDB_API_KEY: "wandb-1",
  SEED: "42",
  UNSET: undefined,
};

describe("sandboxEnv", () => {
  it("passes only PATH, HOME, TMPDIR, LANG, LANGUAGE and LC_* of the service's environment", () => {
    expect(sandboxEnv(SERVICE)).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/u",
      TMPDIR: "/var/tmp",
      LANG: "C.UTF-8",
      LANGUAGE: "en",
      LC_ALL: "C.UTF-8",
      LC_NUMERIC: "de_DE.UTF-8",
    });
  });

  it("adds the names a team lists, even one that looks like a credential, and nothing unset", () => {
    const env = sandboxEnv(SERVICE, ["SEED", "WANDB_API_KEY", "UNSET", "NOT_THERE"]);
    expect(env.SEED).toBe("42");
    expect(env.WANDB_API_KEY).toBe("wandb-1");
    expect(Object.keys(env)).not.toContain("UNSET");
    expect(Object.keys(env)).not.toContain("NOT_THERE");
    expect(env.DATABASE_URL).toBeUndefined();
  });
});

describe("summarizeSandboxEnv", () => {
  it("names what passes, which listed names look secret and which are unset — never a value", () => {
    const summary = summarizeSandboxEnv(SERVICE, ["SEED", "WANDB_API_KEY", "NOT_THERE"]);
    expect(summary).toEqual({
      names: ["HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_NUMERIC", "PATH", "SEED", "TMPDIR", "WANDB_API_KEY"],
      secretLooking: ["WANDB_API_KEY"],
      unset: ["NOT_THERE"],
    });
    expect(JSON.stringify(summary)).not.toContain("wandb-1");
  });
});

describe("mergeEnv", () => {
  it("lays the command's own variables over the base and drops unset ones, filtering nothing", () => {
    expect(mergeEnv({ PATH: "/usr/bin", X: undefined }, { SEED: "1", WANDB_API_KEY: "k" })).toEqual({
      PATH: "/usr/bin",
      SEED: "1",
      WANDB_API_KEY: "k",
    });
  });
});

describe("isSecretName", () => {
  it("recognises secret-looking names case-insensitively (used for a warning, not a filter)", () => {
    for (const n of [
      "slack_app_token",
      "ANTHROPIC_BASE_URL",
      "NATS_CREDS",
      "HF_TOKEN",
      "AWS_REGION",
      "api_key",
      "BASIC_AUTH_USER",
    ]) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ["PATH", "HOME", "LANG", "CUDA_HOME", "SEED", "LC_ALL", "MLLEAD_ARTIFACTS_DIR"])
      expect(isSecretName(n), n).toBe(false);
  });
});
