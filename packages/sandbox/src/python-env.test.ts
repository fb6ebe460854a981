import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PythonEnvError } from "./errors.js";
import { inspectPythonEnv, pythonEnvVars } from "./python-env.js";
import { describePythonEnv, parseCoreMetadata, readInstalledPackages } from "./python-packages.js";

// Debian's python3 (numpy from python3-numpy): a venv made from it has its base in /usr, which every sandbox sees.
const PY = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-pyenv-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function venv(dir: string, flags: string[] = ["--system-site-packages"]): Promise<string> {
  execFileSync(PY, ["-m", "venv", "--without-pip", ...flags, dir]);
  return dir;
}

async function siteOf(dir: string): Promise<string> {
  const lib = (await readdir(join(dir, "lib"))).find((n) => n.startsWith("python3")) ?? "python3";
  return join(dir, "lib", lib, "site-packages");
}

async function distInfo(site: string, name: string, version: string): Promise<void> {
  const d = join(site, `${name}-${version}.dist-info`);
  await mkdir(d, { recursive: true });
  await writeFile(
    join(d, "METADATA"),
    `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: x\n\nName: not-this\n`,
  );
}

/** A Python installation outside the system dirs (a pyenv or uv-managed Python): its interpreter links to the host's. */
async function basePython(prefix: string): Promise<string> {
  await mkdir(join(prefix, "bin"), { recursive: true });
  await mkdir(join(prefix, "lib", "python3.11"), { recursive: true });
  await writeFile(join(prefix, "lib", "python3.11", "os.py"), "");
  await symlink(PY, join(prefix, "bin", "python3"));
  return prefix;
}

/** A venv by hand whose base is `prefix` (what `prefix/bin/python3 -m venv` writes). */
async function venvOn(dir: string, prefix: string): Promise<string> {
  await mkdir(join(dir, "bin"), { recursive: true });
  await mkdir(join(dir, "lib", "python3.11", "site-packages"), { recursive: true });
  await symlink(join(prefix, "bin", "python3"), join(dir, "bin", "python"));
  await writeFile(
    join(dir, "pyvenv.cfg"),
    `home = ${join(prefix, "bin")}\ninclude-system-site-packages = false\nversion = 3.11.9\n`,
  );
  return dir;
}

describe("inspectPythonEnv", () => {
  it("reads a venv made from the system python: the interpreter, VIRTUAL_ENV, and nothing to mount but the venv", async () => {
    const dir = await venv(join(tmp, "team"));
    const env = await inspectPythonEnv(dir);
    expect(env).toMatchObject({
      dir,
      kind: "venv",
      bin: join(dir, "bin"),
      interpreter: join(dir, "bin", "python"),
      mounts: [dir],
      vars: { VIRTUAL_ENV: dir },
      sitePackages: [await siteOf(dir)],
    });
    expect(env.version).toMatch(/^3\.\d+\.\d+$/);
    expect(env.systemSitePackages.length).toBeGreaterThan(0);
    expect(pythonEnvVars(env, { PATH: "/usr/bin:/bin" })).toEqual({ PATH: `${dir}/bin:/usr/bin:/bin`, VIRTUAL_ENV: dir });
  });

  it("mounts a venv's base Python when it lies outside the system dirs (a pyenv, a uv-managed Python)", async () => {
    const base = await basePython(join(tmp, "home", ".pyenv", "versions", "3.11.9"));
    const dir = await venvOn(join(tmp, "venvs", "team"), base);
    const env = await inspectPythonEnv(dir, { home: join(tmp, "home") });
    expect(env.mounts).toEqual([dir, base]);
    expect(env.basePrefix).toBe(base);
    expect(env.version).toBe("3.11.9");
  });

  it("tells a uv venv and a conda environment apart, and sets CONDA_PREFIX for conda", async () => {
    const uv = await venvOn(join(tmp, "uv"), await basePython(join(tmp, "uvpython")));
    await writeFile(join(uv, "pyvenv.cfg"), `home = ${join(tmp, "uvpython", "bin")}\nuv = 0.5.1\nversion_info = 3.12.4\n`);
    expect(await inspectPythonEnv(uv)).toMatchObject({ kind: "uv", version: "3.12.4", vars: { VIRTUAL_ENV: uv } });

    const conda = join(tmp, "conda", "envs", "ml");
    await mkdir(join(conda, "conda-meta"), { recursive: true });
    await writeFile(join(conda, "conda-meta", "python-3.11.8-hab00c5b_0_cpython.json"), "{}");
    await mkdir(join(conda, "bin"));
    await symlink(PY, join(conda, "bin", "python"));
    await distInfo(join(conda, "lib", "python3.11", "site-packages"), "pandas", "2.2.1");
    const env = await inspectPythonEnv(conda);
    expect(env).toMatchObject({ kind: "conda", version: "3.11.8", mounts: [conda], vars: { CONDA_PREFIX: conda } });
    expect(env.basePrefix).toBeUndefined();
    expect((await describePythonEnv(conda))?.packages).toEqual([{ name: "pandas", version: "2.2.1" }]);
  });

  it("refuses, naming MLLEAD_PYTHON_ENV, what is not an environment", async () => {
    const refuse = (dir: string) => expect(inspectPythonEnv(dir)).rejects.toThrow(PythonEnvError);
    await refuse("relative/venv");
    await expect(inspectPythonEnv(join(tmp, "missing"))).rejects.toThrow(
      `MLLEAD_PYTHON_ENV='${join(tmp, "missing")}' does not exist`,
    );
    await mkdir(join(tmp, "empty"));
    await expect(inspectPythonEnv(join(tmp, "empty"))).rejects.toThrow(/^MLLEAD_PYTHON_ENV='.*' has no bin\/python/);
    await mkdir(join(tmp, "plain", "bin"), { recursive: true });
    await symlink(PY, join(tmp, "plain", "bin", "python"));
    await expect(inspectPythonEnv(join(tmp, "plain"))).rejects.toThrow(/is not a venv, conda or uv environment/);
  });

  it("refuses an environment or base Python that is the service's HOME or contains it (its credentials would be mounted)", async () => {
    const home = join(tmp, "svc-home");
    await mkdir(join(home, ".ssh"), { recursive: true });
    // A "venv" whose base is HOME itself: pyvenv.cfg home = $HOME/bin.
    await basePython(home);
    const dir = await venvOn(join(tmp, "venvs", "a"), home);
    await expect(inspectPythonEnv(dir, { home })).rejects.toThrow(
      /its base Python .*svc-home is the service's HOME or contains it/,
    );
    // The environment a directory above HOME.
    await mkdir(join(tmp, "bin"));
    await symlink(PY, join(tmp, "bin", "python"));
    await writeFile(join(tmp, "pyvenv.cfg"), "home = /usr/bin\n");
    await expect(inspectPythonEnv(tmp, { home })).rejects.toThrow(/the environment .* is the service's HOME or contains it/);
  });

  it("refuses an environment inside a directory steps write in, or containing one", async () => {
    const workspaces = join(tmp, "state", "workspaces");
    await mkdir(workspaces, { recursive: true });
    const inside = await venv(join(workspaces, "t1", ".venv"));
    await expect(inspectPythonEnv(inside, { protect: [workspaces] })).rejects.toThrow(
      /overlaps .*workspaces, where steps or jobs write/,
    );
    const around = await venv(join(tmp, "state", "venv"));
    await expect(inspectPythonEnv(around, { protect: [workspaces] })).resolves.toMatchObject({ kind: "venv" });
    await expect(inspectPythonEnv(join(tmp, "state", "venv"), { protect: [join(tmp, "state", "venv", "lib")] })).rejects.toThrow(
      /overlaps/,
    );
  });

  it("refuses a base that is not a Python installation, and an interpreter the sandbox would not see", async () => {
    await mkdir(join(tmp, "notpython", "bin"), { recursive: true });
    await symlink(PY, join(tmp, "notpython", "bin", "python3"));
    const dir = await venvOn(join(tmp, "a"), join(tmp, "notpython"));
    await expect(inspectPythonEnv(dir)).rejects.toThrow(/does not look like a Python installation/);

    const base = await basePython(join(tmp, "base"));
    const stray = await basePython(join(tmp, "stray"));
    const b = await venvOn(join(tmp, "b"), base);
    await rm(join(b, "bin", "python"));
    await writeFile(join(stray, "bin", "python-real"), "#!/bin/sh\n", { mode: 0o755 });
    await symlink(join(stray, "bin", "python-real"), join(b, "bin", "python"));
    await expect(inspectPythonEnv(b)).rejects.toThrow(/has bin\/python pointing at .*stray.*the sandbox would not see it/);
  });
});

describe("describePythonEnv", () => {
  it("names the interpreter, the key packages of the venv and of the system site-packages it includes, and the venv's own others", async () => {
    const dir = await venv(join(tmp, "team"));
    const site = await siteOf(dir);
    await distInfo(site, "mllead_probe", "1.2.3");
    await distInfo(site, "Scikit_Learn", "1.5.2");
    await distInfo(site, "pip", "24.0");
    const d = await describePythonEnv(dir);
    expect(d).toMatchObject({ kind: "venv", interpreter: join(dir, "bin", "python"), dir });
    const names = d?.packages.map((p) => p.name) ?? [];
    expect(names).toContain("Scikit_Learn");
    // numpy is Debian's (python3-numpy, an egg-info in /usr/lib/python3/dist-packages), seen through --system-site-packages.
    if (
      execFileSync(PY, ["-c", "import importlib.util as u; print(bool(u.find_spec('numpy')))"], { encoding: "utf8" }).trim() ===
      "True"
    )
      expect(names).toContain("numpy");
    expect(d?.otherPackages).toEqual([{ name: "mllead_probe", version: "1.2.3" }]);
  });

  it("leaves the system's packages out of a venv that does not include them", async () => {
    const dir = await venv(join(tmp, "isolated"), []);
    const d = await describePythonEnv(dir);
    expect(d?.packages).toEqual([]);
  });

  it("without an environment, describes the system python3 that sandboxed commands find", async () => {
    const d = await describePythonEnv();
    if (!existsSync("/usr/bin/python3") && !existsSync("/usr/local/bin/python3")) expect(d).toBeNull();
    else expect(d).toMatchObject({ kind: "system", interpreter: expect.stringMatching(/^\/usr\/(local\/)?bin\/python3$/) });
  });
});

describe("package metadata", () => {
  it("reads Name and Version from the header block only, dist-info and egg-info (file or directory) alike", async () => {
    expect(parseCoreMetadata("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1+cu121\n\nName: no\n")).toEqual({
      name: "torch",
      version: "2.5.1+cu121",
    });
    expect(parseCoreMetadata("Name: x\n")).toBeNull();
    const site = join(tmp, "site");
    await mkdir(join(site, "scipy-1.10.1.egg-info"), { recursive: true });
    await writeFile(join(site, "scipy-1.10.1.egg-info", "PKG-INFO"), "Metadata-Version: 2.1\nName: scipy\nVersion: 1.10.1\n");
    await writeFile(join(site, "six-1.16.0.egg-info"), "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n");
    await distInfo(site, "numpy", "2.1.0");
    await distInfo(join(tmp, "later"), "numpy", "1.0.0");
    const found = await readInstalledPackages([site, join(tmp, "later")]);
    expect([...found.values()]).toEqual([
      { name: "numpy", version: "2.1.0" },
      { name: "scipy", version: "1.10.1" },
      { name: "six", version: "1.16.0" },
    ]);
  });
});
