import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GIT_HOME, gitEnv, redactUrls, runGit } from "./git-cli.js";
import { credentialOptions, splitCredentials } from "./git-credentials.js";

const SERVICE_ENV = {
  PATH: process.env.PATH,
  HOME: "/home/svc",
  LANG: "C.UTF-8",
  SLACK_BOT_TOKEN: "xoxb-1-secret",
  ANTHROPIC_API_KEY: "sk-ant-secret",
  DATABASE_URL: "postgres://u:pw@db/x",
  GIT_DIR: "/elsewhere/.git",
  GIT_INDEX_FILE: "x",
  GIT_CONFIG_GLOBAL: "/home/svc/.gitconfig",
  GIT_SSH_COMMAND: "ssh -i k",
  SSH_AUTH_SOCK: "/run/agent",
};

afterEach(() => vi.unstubAllEnvs());

describe("git environment", () => {
  it("redacts credentials in URLs", () => {
    expect(redactUrls("fatal: could not read from https://me:ghp_secret@github.com/a/b.git")).toBe(
      "fatal: could not read from https://***@github.com/a/b.git",
    );
  });

  it("is an allow-list: PATH and locale, a HOME with nothing in it, no config of the host, mllead's identity", () => {
    const env = gitEnv(SERVICE_ENV);
    expect(Object.keys(env).sort()).toEqual(
      [
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_GLOBAL",
        "GIT_ATTR_NOSYSTEM",
        "GIT_TERMINAL_PROMPT",
        "GCM_INTERACTIVE",
        "GIT_OPTIONAL_LOCKS",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
      ].sort(),
    );
    expect(env).toMatchObject({ HOME: GIT_HOME, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" });
    expect(env.GIT_COMMITTER_NAME).toBe("mllead");
    // A command that talks to a remote also gets what reaches it (ssh, its agent, HOME for ~/.ssh), still no secrets.
    const net = gitEnv(SERVICE_ENV, true);
    expect(net).toMatchObject({ HOME: "/home/svc", GIT_SSH_COMMAND: "ssh -i k", SSH_AUTH_SOCK: "/run/agent" });
    expect(net.GIT_CONFIG_GLOBAL).toBe("/dev/null");
    for (const k of ["SLACK_BOT_TOKEN", "ANTHROPIC_API_KEY", "DATABASE_URL", "GIT_DIR", "GIT_INDEX_FILE"]) {
      expect(env[k], k).toBeUndefined();
      expect(net[k], k).toBeUndefined();
    }
  });

  it("a program git runs sees none of the service's secrets and the git dir the service named", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mllead-gitenv-"));
    try {
      // The service's own environment holds the secrets: git reads process.env through its allow-list.
      for (const [k, v] of Object.entries(SERVICE_ENV)) if (k !== "PATH") vi.stubEnv(k, v);
      const repo = { gitDir: join(dir, "repo.git") };
      await mkdir(repo.gitDir);
      await runGit(repo, ["init", "--quiet", "--bare"]);
      // An alias is the simplest program git starts with its own environment.
      const out = (await runGit(repo, ["-c", "alias.showenv=!env", "showenv"])).stdout;
      expect(out).not.toMatch(/secret|pw@db/);
      expect(out).toContain(`GIT_DIR=${repo.gitDir}`);
      expect(out).toContain(`HOME=${GIT_HOME}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("credentials", () => {
  it("takes user and password out of a URL, percent-decoded, and leaves other URLs alone", () => {
    expect(splitCredentials("https://ada:ghp%3Atok%2F1@github.com:8443/acme/ml.git")).toEqual({
      url: "https://github.com:8443/acme/ml.git",
      credentials: { protocol: "https", host: "github.com:8443", username: "ada", password: "ghp:tok/1" },
    });
    for (const url of ["https://github.com/acme/ml.git", "git@github.com:acme/ml.git", "ssh://git@host/x", "/srv/ml"]) {
      expect(splitCredentials(url), url).toEqual({ url });
    }
  });

  it("hands them to git through the environment of one call, never on its command line", () => {
    const { config, env } = credentialOptions({ protocol: "https", host: "h", username: "ada", password: "s3cret" });
    expect(config.join(" ")).not.toContain("s3cret");
    expect(config.slice(0, 2)).toEqual(["-c", "credential.helper="]);
    expect(Object.values(env)).toContain("s3cret");
    expect(credentialOptions()).toEqual({ config: ["-c", "credential.helper="], env: {} });
  });
});
