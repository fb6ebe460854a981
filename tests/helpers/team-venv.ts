import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The package a team venv holds that no system python has: `import mllead_probe; mllead_probe.VERSION == "1.2.3"`. */
export const PROBE = { module: "mllead_probe", version: "1.2.3" } as const;

/**
 * The Debian python3 (with numpy from python3-numpy) a team venv is made from: its base lies in /usr, which
 * every sandbox sees. Not the python3 on PATH, which may be a pyenv under HOME.
 */
export const SYSTEM_PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/**
 * A real venv as a team makes one (`python3 -m venv --system-site-packages`, offline: no pip) holding a
 * package the system python lacks, with its dist-info as pip writes it. Returns the venv's directory.
 */
export async function makeTeamVenv(dir: string, python: string = SYSTEM_PYTHON): Promise<string> {
  execFileSync(python, ["-m", "venv", "--without-pip", "--system-site-packages", dir]);
  const lib = (await readdir(join(dir, "lib"))).find((n) => n.startsWith("python3"));
  if (!lib) throw new Error(`${dir}: the venv has no lib/python3.X`);
  const site = join(dir, "lib", lib, "site-packages");
  await mkdir(join(site, PROBE.module), { recursive: true });
  await writeFile(join(site, PROBE.module, "__init__.py"), `VERSION = "${PROBE.version}"\n`);
  const info = join(site, `${PROBE.module}-${PROBE.version}.dist-info`);
  await mkdir(info);
  await writeFile(
    join(info, "METADATA"),
    `Metadata-Version: 2.1\nName: ${PROBE.module}\nVersion: ${PROBE.version}\n\nA probe.\n`,
  );
  return dir;
}

/** The site-packages directory of a venv made by `makeTeamVenv`. */
export async function venvSitePackages(dir: string): Promise<string> {
  const lib = (await readdir(join(dir, "lib"))).find((n) => n.startsWith("python3"));
  return join(dir, "lib", lib ?? "python3", "site-packages");
}
