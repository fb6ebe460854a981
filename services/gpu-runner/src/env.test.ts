import { describe, expect, it } from "vitest";
import { buildJobEnv } from "./env.js";

const vars = { CUDA_VISIBLE_DEVICES: "GPU-a", MLLEAD_ARTIFACTS_DIR: "/jobs/j1/artifacts", MLLEAD_JOB_ID: "j1" };

describe("buildJobEnv", () => {
  const host = {
    PATH: "/usr/bin:/bin",
    HOME: "/home/ml",
    TMPDIR: "/scratch/tmp",
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    // Passed before only because they were on a built-in list: now a team lists what its jobs need.
    USER: "ml",
    SHELL: "/bin/bash",
    TZ: "UTC",
    LD_LIBRARY_PATH: "/usr/local/cuda/lib64",
    CUDA_HOME: "/usr/local/cuda",
    HF_HOME: "/cache/hf",
    SLACK_BOT_TOKEN: "xoxb-123",
    ANTHROPIC_API_KEY: "sk-ant-x",
    NATS_URL: "nats://secret-host:4222",
    DATABASE_URL: "postgres://u:p@db",
    MLFLOW_TRACKING_URI: "https://u:p@mlflow",
    MLLEAD_TEST_CANARY: "canary",
    CUDA_VISIBLE_DEVICES: "0,1,2,3",
    UNDEFINED: undefined,
  };

  it("passes only PATH, HOME, TMPDIR, LANG and LC_* of the host: no credentials, addresses or other settings", () => {
    const env = buildJobEnv(host, {}, vars);
    expect(env).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/ml",
      TMPDIR: "/scratch/tmp",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      PYTHONUNBUFFERED: "1",
      ...vars,
    });
  });

  it("passes the names a team lists in MLLEAD_SANDBOX_ENV, even secret-looking ones, and always has a PATH", () => {
    const env = buildJobEnv(
      { LD_LIBRARY_PATH: "/cuda/lib64", WANDB_MODE: "offline", WANDB_API_KEY: "k", DATABASE_URL: "postgres://u:p@db" },
      {},
      vars,
      ["LD_LIBRARY_PATH", "WANDB_MODE", "WANDB_API_KEY"],
    );
    expect(env).toMatchObject({ LD_LIBRARY_PATH: "/cuda/lib64", WANDB_MODE: "offline", WANDB_API_KEY: "k" });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PATH).toBe("/usr/local/bin:/usr/bin:/bin");
  });

  it("adds the job's own env, but the runner's variables win and a job cannot set any MLLEAD_* name", () => {
    const env = buildJobEnv(
      host,
      { LR: "0.1", CUDA_VISIBLE_DEVICES: "0,1", MLLEAD_JOB_ID: "other-job", MLLEAD_SANDBOX: "process", PYTHONUNBUFFERED: "0" },
      vars,
    );
    expect(env.LR).toBe("0.1");
    expect(env.CUDA_VISIBLE_DEVICES).toBe("GPU-a");
    expect(env.MLLEAD_JOB_ID).toBe("j1");
    expect(env.PYTHONUNBUFFERED).toBe("1");
    expect(
      Object.keys(env)
        .filter((k) => k.startsWith("MLLEAD_"))
        .sort(),
    ).toEqual(["MLLEAD_ARTIFACTS_DIR", "MLLEAD_JOB_ID"]);
  });
});
