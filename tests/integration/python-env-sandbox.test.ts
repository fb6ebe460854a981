import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeEnv, openPythonEnv, PythonEnvError, pythonEnvVars } from "../../packages/sandbox/src/index.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";
import { makeTeamVenv, PROBE, venvSitePackages } from "../helpers/team-venv.js";

const sandbox = await testSandbox();
const BASE_ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
let tmp: string;
let venv: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-pyenv-sandbox-"));
  venv = await makeTeamVenv(join(tmp, "venvs", "team"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Runs argv as a specialist's command would, with the opened environment mounted and first on PATH. */
async function runIn(opened: Awaited<ReturnType<typeof openPythonEnv>>, argv: string[]) {
  const work = await mkdtemp(join(tmp, "work-"));
  return sandbox.run({
    argv,
    cwd: work,
    env: mergeEnv(BASE_ENV, pythonEnvVars(opened.env, BASE_ENV)),
    timeoutMs: 30_000,
    policy: { workdir: work, readOnly: opened.env.mounts, network: false, limits: {} },
  });
}

describe("MLLEAD_PYTHON_ENV under the sandbox", () => {
  it("a venv with a package the system python lacks: checked at open, imported by `python` in a command, read-only inside", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    const opened = await openPythonEnv(venv, sandbox, { baseEnv: BASE_ENV });
    expect(opened.sysVersion).toMatch(/^3\.\d+\.\d+ /);
    expect(opened.description.version).toBe(opened.sysVersion.split(" ")[0]);
    expect(opened.description.otherPackages).toContainEqual({ name: PROBE.module, version: PROBE.version });

    const ok = await runIn(opened, [
      "python",
      "-c",
      `import sys, os, ${PROBE.module}, numpy; print(${PROBE.module}.VERSION, sys.prefix, os.environ["VIRTUAL_ENV"])`,
    ]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout.trim()).toBe(`${PROBE.version} ${venv} ${venv}`);

    // A step "installs" into the team's environment: a sitecustomize every later command and job would run.
    const site = await venvSitePackages(venv);
    const write = await runIn(opened, [
      "python",
      "-c",
      `open(${JSON.stringify(join(site, "sitecustomize.py"))}, "w").write("print('owned')")`,
    ]);
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join(site, "sitecustomize.py"))).toBe(false);
  });

  it("a venv whose base Python lies outside /usr (the python3 on PATH: a pyenv here) runs with its base mounted read-only", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    const pathPython = execFileSync("python3", ["-c", "import sys; print(sys.base_prefix)"], { encoding: "utf8" }).trim();
    const dir = await makeTeamVenv(join(tmp, "venvs", "from-path"), "python3");
    const opened = await openPythonEnv(dir, sandbox, { baseEnv: BASE_ENV, guard: { home: join(tmp, "no-home") } });
    expect(opened.env.mounts).toEqual(pathPython.startsWith("/usr") ? [dir] : [dir, pathPython]);
    const res = await runIn(opened, ["python", "-c", `import ${PROBE.module}; print(${PROBE.module}.VERSION)`]);
    expect(res.stdout.trim()).toBe(PROBE.version);
  });

  it("refuses, naming MLLEAD_PYTHON_ENV, an environment whose python does not run inside the sandbox", async () => {
    // A base that passes every static check but whose interpreter cannot start (a broken or foreign build).
    const base = join(tmp, "broken-python");
    await mkdir(join(base, "bin"), { recursive: true });
    await mkdir(join(base, "lib", "python3.11"), { recursive: true });
    await writeFile(
      join(base, "bin", "python3"),
      "#!/bin/sh\necho 'error while loading shared libraries: libpython3.11.so' >&2\nexit 127\n",
    );
    await chmod(join(base, "bin", "python3"), 0o755);
    const dir = join(tmp, "venvs", "broken");
    await mkdir(join(dir, "bin"), { recursive: true });
    await symlink(join(base, "bin", "python3"), join(dir, "bin", "python"));
    await writeFile(join(dir, "pyvenv.cfg"), `home = ${join(base, "bin")}\nversion = 3.11.9\n`);
    const err = await openPythonEnv(dir, sandbox, { baseEnv: BASE_ENV }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonEnvError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^MLLEAD_PYTHON_ENV='${dir}': \`python -c 'import sys; print\\(sys.version\\)'\` does not run in the \\w+ sandbox \\(exited with code 127: error while loading shared libraries`,
      ),
    );
    expect(await readdir(tmpdir())).not.toContainEqual(expect.stringMatching(/^mllead-python-check-/));
  });
});
