import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT, SERVICE_NAMES } from "../../scripts/lib/services.js";

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

  it("documents every configuration name in .env.example and the README", () => {
    const example = read(".env.example");
    const readme = read("README.md");
    for (const name of DOCUMENTED) {
      expect(example).toMatch(new RegExp(`^${name}=`, "m"));
      expect(readme).toContain(`\`${name}\``);
    }
  });
});
