import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build, buildProjects, staleProjects } from "@mllead/tools/build";
import {
  DIST_CONDITION,
  REPO_ROOT,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceProcess,
  startService,
  stopService,
} from "@mllead/tools/services";
import { servicesWorld } from "@mllead/tools/stack";
import { beforeAll, describe, expect, it } from "vitest";
import { startNatsServer } from "../helpers/nats-server.js";

/** Where `specifier` resolves from a service's directory, with or without the production condition. */
function resolveFrom(service: ServiceName, specifier: string, conditions: string[]): string {
  const r = spawnSync(
    process.execPath,
    [...conditions, "--input-type=module", "-e", `process.stdout.write(import.meta.resolve(${JSON.stringify(specifier)}))`],
    { cwd: join(REPO_ROOT, "services", service), encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`resolving ${specifier} from ${service} failed:\n${r.stderr}`);
  return r.stdout;
}

describe("the production build (pnpm build; pnpm start --prod)", () => {
  beforeAll(async () => {
    // Incremental: only what changed since the last build is compiled again (a fresh clone compiles everything).
    await build();
  }, 600_000);

  it("builds only when a dist/ is missing or older than its sources, and fails on a type error", async () => {
    const root = await mkdtemp(join(tmpdir(), "mllead-build-"));
    // The project as first written is dated a minute back, so that every later edit is newer than any build.
    const write = async (file: string, text: string, { past = false } = {}) => {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await writeFile(join(root, file), text);
      const at = Date.now() / 1000 - (past ? 60 : 0);
      await utimes(join(root, file), at, at);
    };
    const project = (references: string[]) =>
      JSON.stringify({
        extends: "../tsconfig.base.json",
        compilerOptions: { composite: true, rootDir: "src", outDir: "dist", tsBuildInfoFile: "dist/tsconfig.tsbuildinfo" },
        include: ["src"],
        exclude: ["src/**/*.test.ts"],
        references: references.map((path) => ({ path })),
      });
    try {
      await write(
        "tsconfig.base.json",
        JSON.stringify({ compilerOptions: { target: "ES2023", module: "NodeNext", strict: true, types: [] } }),
        { past: true },
      );
      await write("tsconfig.build.json", JSON.stringify({ files: [], references: [{ path: "./lib" }, { path: "./app" }] }), {
        past: true,
      });
      for (const dir of ["lib", "app"]) await write(`${dir}/package.json`, JSON.stringify({ type: "module" }), { past: true });
      await write("lib/tsconfig.json", project([]), { past: true });
      await write("lib/src/index.ts", 'export const GREETING: string = "one";\n', { past: true });
      await write("app/tsconfig.json", project(["../lib"]), { past: true });
      await write(
        "app/src/main.ts",
        'import { GREETING } from "../../lib/src/index.js";\nexport const out: string = GREETING;\n',
        { past: true },
      );

      expect(staleProjects(root)).toEqual(["lib", "app"]);
      expect((await build({ root })).built).toEqual(["lib", "app"]);
      expect(await readFile(join(root, "lib/dist/index.js"), "utf8")).toContain('"one"');
      expect(staleProjects(root)).toEqual([]);
      expect(await build({ root })).toEqual({ built: [], ms: 0, output: "" });

      // A unit test is not part of the build; a changed source is.
      await write("app/src/main.test.ts", "export {};\n");
      expect(staleProjects(root)).toEqual([]);
      await write("lib/src/index.ts", 'export const GREETING: string = "two";\n');
      expect(staleProjects(root)).toEqual(["lib"]);
      await build({ root });
      expect(await readFile(join(root, "lib/dist/index.js"), "utf8")).toContain('"two"');
      expect(staleProjects(root)).toEqual([]);

      await write("app/src/main.ts", "export const out: number = 'not a number';\n");
      await expect(build({ root })).rejects.toThrow(/the build failed[\s\S]*error TS2322/);
      expect(staleProjects(root)).toEqual(["app"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);

  it("leaves every package with a dist/index.js and every service with a dist/main.js", () => {
    for (const project of buildProjects().filter((p) => p.startsWith("packages/")))
      expect(existsSync(join(REPO_ROOT, project, "dist", "index.js")), project).toBe(true);
    for (const name of SERVICE_NAMES) expect(existsSync(join(REPO_ROOT, "services", name, "dist", "main.js")), name).toBe(true);
  });

  it("resolves the workspace packages to dist/ under the production condition, and to src/ without it", () => {
    for (const pkg of ["@mllead/contracts", "@mllead/bus", "@mllead/service-kit", "@mllead/brain", "@mllead/sandbox"]) {
      const dir = pkg.replace("@mllead/", "packages/");
      expect(resolveFrom("specialist-agent", pkg, [`--conditions=${DIST_CONDITION}`])).toMatch(
        new RegExp(`/${dir}/dist/index\\.js$`),
      );
      expect(resolveFrom("specialist-agent", pkg, [])).toMatch(new RegExp(`/${dir}/src/index\\.ts$`));
    }
  });

  it("runs all four services from dist with plain node (no tsx): each gets ready and answers /healthz and /readyz", async () => {
    await using nats = await startNatsServer();
    const { dir, sandbox, env: base } = await servicesWorld(nats.url, { name: "prod" });
    const env: NodeJS.ProcessEnv = { ...base, PORT: "0", MLLEAD_SANDBOX: "process" };
    const services: ServiceProcess[] = [];
    try {
      for (const name of SERVICE_NAMES) services.push(startService(name, env, { from: "dist" }));
      const addresses = await Promise.all(services.map((s) => s.ready));
      for (const [i, s] of services.entries()) {
        expect(s.proc.spawnargs.join(" "), s.name).not.toMatch(/tsx|\.ts\b/);
        expect(s.proc.spawnargs.at(-1), s.name).toBe(join(REPO_ROOT, "services", s.name, "dist", "main.js"));
        const health = await fetch(`${addresses[i]}/healthz`);
        expect(health.status, s.name).toBe(200);
        expect(await health.json()).toEqual({ ok: true });
        const ready = await fetch(`${addresses[i]}/readyz`);
        expect(ready.status, `${s.name}: ${await ready.clone().text()}`).toBe(200);
      }
    } finally {
      await Promise.all(services.map((s) => stopService(s)));
      await sandbox.close();
      await rm(dir, { recursive: true, force: true });
    }
    // A SIGTERM is a graceful stop: every service exits 0.
    expect(await Promise.all(services.map((s) => s.exited))).toEqual(services.map(() => 0));
  }, 180_000);
});
