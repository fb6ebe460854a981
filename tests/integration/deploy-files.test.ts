import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PROD_NODE_FLAGS, REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
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

  it("the image is built in one stage and runs the compiled services, as a non-root user, in another", () => {
    const dockerfile = read("Dockerfile").replace(/\\\n/g, " ");
    const stages = dockerfile.split(/^(?=FROM\s)/m).filter((s) => s.startsWith("FROM"));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => /^FROM\s+\S+\s+AS\s+build\b/i.test(s)) ?? "";
    const runtime = stages.at(-1) ?? "";
    // The build stage compiles with tsc -b and installs the production dependencies of the runtime tree.
    expect(build).toMatch(/^RUN\b.*\bpnpm install --frozen-lockfile\b.*\bpnpm build\b/m);
    expect(build).toMatch(/^RUN\b.*\bpnpm install --prod\b/m);
    expect(JSON.parse(read("package.json")).scripts.build).toBe("tsc -b tsconfig.build.json");
    // The runtime stage: the build's output, no compiler, no install of its own, the system packages of the sandbox.
    expect(runtime).not.toBe(build);
    expect(runtime).toMatch(/^COPY --from=build\s/m);
    expect(runtime).not.toMatch(/\bpnpm\b|\btsx\b|\btsc\b|^COPY \. /m);
    expect(runtime).toMatch(/^RUN\b.*\bapt-get install\b.*\sbubblewrap(\s|$)/m);
    // Not root, and the user is set before the command runs.
    const user = /^USER\s+(\S+)$/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0", "0:0"]).not.toContain(user);
    expect(runtime.indexOf("USER ")).toBeLessThan(runtime.indexOf("CMD "));
    // Plain node on the compiled entry, with the production V8 flags (as `pnpm start --prod` runs it) and the
    // condition that resolves every @mllead package to its dist/.
    const cmd = /^CMD\s+(.*)$/m.exec(runtime)?.[1] ?? "";
    expect(cmd).toContain(`exec node ${PROD_NODE_FLAGS.join(" ")} --conditions=mllead-dist services/\${SERVICE}/dist/main.js`);
    expect(cmd).not.toMatch(/tsx|\.ts\b/);
    // A dist/ of the host must not reach the build stage (tsc -b could take it for up to date).
    expect(read(".dockerignore").split("\n")).toContain("**/dist");
  });

  it("the build covers every service and the workspace packages each one uses", () => {
    const refs = (file: string) =>
      (JSON.parse(read(file)) as { references?: { path: string }[] }).references?.map((r) => join(dirname(file), r.path)) ?? [];
    const solution = refs("tsconfig.build.json");
    for (const name of SERVICE_NAMES) {
      const dir = join("services", name);
      expect(solution, name).toContain(dir);
      const pkg = JSON.parse(read(join(dir, "package.json"))) as { dependencies?: Record<string, string> };
      const workspaceDeps = Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith("@mllead/"));
      const own = refs(join(dir, "tsconfig.json"));
      for (const dep of workspaceDeps) expect(own, `${name} → ${dep}`).toContain(join("packages", dep.slice("@mllead/".length)));
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
