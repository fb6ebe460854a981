import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (p: string) => readFileSync(join(REPO_ROOT, p), "utf8");

/** The configuration names the project promises to keep (issue #2). */
const DOCUMENTED = [
  "NATS_URL",
  "SLACK_BOT_TOKEN",
  "SLACK_SIGNING_SECRET",
  "SLACK_APP_TOKEN",
  "SLACK_API_URL",
  "GATEWAY_PORT",
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "MLLEAD_BRAIN",
  "MLLEAD_APPROVERS",
  "NATS_CREDS",
  "NATS_USER",
  "NATS_PASSWORD",
  "MLLEAD_NATS_PORT",
  "MLLEAD_SANDBOX",
  "MLLEAD_SANDBOX_ENV",
  "MLLEAD_PYTHON_ENV",
  "MLLEAD_OFFLINE_COMMIT",
];

describe("deployment files", () => {
  it("docker-compose runs NATS 2.11+ with JetStream and every service", () => {
    // Compose files use YAML merge keys (`<<: *env`), which docker compose resolves.
    const compose = parse(read("docker-compose.yml"), { merge: true }) as {
      services: Record<string, { image?: string; environment?: Record<string, string> }>;
    };
    const nats = compose.services.nats;
    const [major, minor] = (nats?.image?.match(/nats:(\d+)\.(\d+)/)?.slice(1) ?? []).map(Number);
    expect(major === 2 && (minor ?? 0) >= 11).toBe(true);
    expect(read("infra/nats.conf")).toMatch(/jetstream\s*\{/);
    for (const name of SERVICE_NAMES) {
      expect(compose.services[name]?.environment?.SERVICE).toBe(name);
      expect(compose.services[name]?.environment?.NATS_URL).toBe("nats://nats:4222");
    }
  });

  it("the image installs bubblewrap and git and requires the sandbox; compose gives the sandboxed services what bwrap needs, and no more", () => {
    // Continuation lines joined, so one RUN reads as one line.
    const dockerfile = read("Dockerfile").replace(/\\\n/g, " ");
    const installs = dockerfile
      .split("\n")
      .filter((l) => /^RUN\b.*\bapt-get install\b/.test(l))
      .join(" ");
    expect(installs).toMatch(/\sbubblewrap(\s|$)/);
    expect(installs).toMatch(/\sgit(\s|$)/);
    // The shipped jobs: numpy, and matplotlib for the analyst's plots.
    expect(installs).toMatch(/\spython3-numpy\s.*\bpython3-matplotlib(\s|$)/);
    expect(dockerfile).toMatch(/^ENV\b.*\sMLLEAD_SANDBOX=bubblewrap(\s|$)/m);
    expect(dockerfile).toMatch(/^USER node$/m);

    const compose = parse(read("docker-compose.yml"), { merge: true }) as {
      services: Record<
        string,
        { security_opt?: string[]; cap_add?: string[]; privileged?: boolean; environment?: Record<string, string> }
      >;
    };
    for (const name of ["specialist-agent", "gpu-runner"]) {
      const s = compose.services[name];
      // seccomp: unshare/clone(CLONE_NEWUSER) and mount; AppArmor: mount; systempaths: a fresh /proc in a pid namespace.
      expect(s?.security_opt, name).toEqual(
        expect.arrayContaining(["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]),
      );
      expect(s?.privileged, name).toBeUndefined();
      expect(s?.cap_add ?? [], name).toEqual([]);
      // The image's default stands: nothing here turns the sandbox down to a process group.
      expect(s?.environment?.MLLEAD_SANDBOX, name).toBeUndefined();
    }
    for (const name of ["slack-gateway", "tech-lead", "nats"]) expect(compose.services[name]?.security_opt, name).toBeUndefined();
    expect(read(".env.example")).toMatch(/^MLLEAD_SANDBOX_ENV=/m);
  });

  it("documents every configuration name in .env.example and the README", () => {
    const example = read(".env.example");
    const readme = read("README.md");
    for (const name of DOCUMENTED) {
      expect(example).toMatch(new RegExp(`^${name}=`, "m"));
      expect(readme).toContain(`\`${name}\``);
    }
  });
});
