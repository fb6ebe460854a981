import { describe, expect, it } from "vitest";
import { isSecretName, scrubEnv } from "./env.js";

describe("scrubEnv", () => {
  it("drops mllead's own credentials and anything named like a secret", () => {
    const env = scrubEnv(
      {
        PATH: "/usr/bin",
        HOME: "/home/u",
        SLACK_BOT_TOKEN: "xoxb-1",
        SLACK_CHANNEL: "C1",
        ANTHROPIC_API_KEY: "sk-ant-1",
        ANTHROPIC_BASE_URL: "http://x",
        NATS_URL: "nats://x",
        GITHUB_TOKEN: "ghp",
        AWS_SECRET_ACCESS_KEY: "a",
        DB_PASSWORD: "p",
        my_api_key: "k",
        UNSET: undefined,
      },
      { SEED: "42", HF_TOKEN: "hf" },
    );
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/home/u", SEED: "42" });
  });
});

describe("isSecretName", () => {
  it("recognises secret names case-insensitively", () => {
    expect(isSecretName("slack_app_token")).toBe(true);
    expect(isSecretName("PYTHONHASHSEED")).toBe(false);
    expect(isSecretName("CUDA_VISIBLE_DEVICES")).toBe(false);
  });

  it("recognises secret-looking names", () => {
    for (const n of ["SLACK_APP_TOKEN", "ANTHROPIC_BASE_URL", "NATS_CREDS", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "api_key"]) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ["PATH", "HOME", "LANG", "CUDA_HOME"]) expect(isSecretName(n), n).toBe(false);
  });

  it("covers both services' rules: cloud and API prefixes, and AUTH anywhere", () => {
    for (const n of ["GITHUB_REPOSITORY", "OPENAI_ORG", "AWS_REGION", "BASIC_AUTH_USER", "nats_servers"]) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ["SEED", "LC_ALL", "MLLEAD_ARTIFACTS_DIR"]) expect(isSecretName(n), n).toBe(false);
  });
});
