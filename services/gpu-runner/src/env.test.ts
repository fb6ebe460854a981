import { describe, expect, it } from "vitest";
import { buildJobEnv } from "./env.js";

const vars = { CUDA_VISIBLE_DEVICES: "GPU-a", MLLEAD_ARTIFACTS_DIR: "/jobs/j1/artifacts", MLLEAD_JOB_ID: "j1" };

describe("buildJobEnv", () => {
  const host = {
    PATH: "/usr/bin:/bin",
    HOME: "/home/ml",
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    LD_LIBRARY_PATH: "/usr/local/cuda/lib64",
    SLACK_BOT_TOKEN: "xoxb-123",
    SLACK_SIGNING_SECRET: "s",
    ANTHROPIC_API_KEY: "sk-ant-x",
    NATS_URL: "nats://secret-host:4222",
    GITHUB_TOKEN: "ghp",
    MY_SERVICE_PASSWORD: "p",
    DATABASE_URL: "postgres://u:p@db",
    CUDA_VISIBLE_DEVICES: "0,1,2,3",
    UNDEFINED: undefined,
  };

  it("passes only safe host variables, never secrets or infrastructure addresses", () => {
    const env = buildJobEnv(host, {}, vars);
    expect(env).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/ml",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      LD_LIBRARY_PATH: "/usr/local/cuda/lib64",
      PYTHONUNBUFFERED: "1",
      ...vars,
    });
  });

  it("adds the job's env, but the runner's device and artifact variables win", () => {
    const env = buildJobEnv(host, { LR: "0.1", CUDA_VISIBLE_DEVICES: "0,1", MLLEAD_JOB_ID: "other" }, vars);
    expect(env.LR).toBe("0.1");
    expect(env.CUDA_VISIBLE_DEVICES).toBe("GPU-a");
    expect(env.MLLEAD_JOB_ID).toBe("j1");
  });

  it("passes extra allowed names unless they look secret, and always has a PATH", () => {
    const env = buildJobEnv({ WANDB_MODE: "offline", WANDB_API_KEY: "k" }, {}, vars, ["WANDB_MODE", "WANDB_API_KEY"]);
    expect(env.WANDB_MODE).toBe("offline");
    expect(env.WANDB_API_KEY).toBeUndefined();
    expect(env.PATH).toBe("/usr/local/bin:/usr/bin:/bin");
  });
});
