import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Finds bwrap as the services will: MLLEAD_BWRAP, then PATH, then /usr/bin/bwrap. */
export function findBwrap(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.MLLEAD_BWRAP) return existsSync(env.MLLEAD_BWRAP) ? env.MLLEAD_BWRAP : null;
  for (const d of [...(env.PATH ?? "").split(delimiter), "/usr/bin"]) {
    if (d && existsSync(join(d, "bwrap"))) return join(d, "bwrap");
  }
  return null;
}

export const BWRAP_HINT = [
  "bubblewrap (bwrap) was not found: model-driven commands and GPU jobs will run in a process sandbox only",
  "(the services say so in their logs and in /mllead status). Install it with one of:",
  "  Debian/Ubuntu:  sudo apt-get install -y bubblewrap",
  "  Fedora/RHEL:    sudo dnf install -y bubblewrap",
  "  Arch:           sudo pacman -S bubblewrap",
  "  or point MLLEAD_BWRAP at a bwrap binary.",
].join("\n");

const aptInstall = () =>
  execFileSync("apt-get", ["install", "-y", "-q", "bubblewrap"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });

/** Installs bubblewrap with apt-get when running as root on Debian/Ubuntu; returns the binary or null. */
export function tryInstallBubblewrap(log: (line: string) => void): string | null {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) return null;
  log("bubblewrap not found; installing it with apt-get (you are root) …");
  try {
    aptInstall();
  } catch {
    try {
      execFileSync("apt-get", ["update", "-q"], { stdio: "inherit" });
      aptInstall();
    } catch {
      return null;
    }
  }
  return findBwrap();
}

/** True when the system python3 (the one sandboxed commands and jobs see) can import numpy. */
export function sandboxPythonHasNumpy(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const NUMPY_HINT = [
  "the system python3 (/usr/bin/python3) cannot import numpy. Sandboxed commands and GPU jobs see the system's",
  "programs only — not a pyenv, conda or venv under your home — and the shipped jobs need numpy. Install it with:",
  "  Debian/Ubuntu:  sudo apt-get install -y python3-numpy",
  "  or list your toolchain's directory in MLLEAD_DATA_DIRS (read-only in the sandbox).",
].join("\n");

/** Installs python3-numpy with apt-get when running as root on Debian/Ubuntu; true when numpy is then there. */
export function tryInstallSandboxNumpy(log: (line: string) => void): boolean {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) return false;
  log("the system python3 lacks numpy; installing python3-numpy with apt-get (you are root) …");
  try {
    execFileSync("apt-get", ["install", "-y", "-q", "python3", "python3-numpy"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch {
    return false;
  }
  return sandboxPythonHasNumpy();
}

/** True when the system python3 can import matplotlib (the analyst's plots; a built-in renderer otherwise). */
export function sandboxPythonHasMatplotlib(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import matplotlib"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const MATPLOTLIB_HINT = [
  "the system python3 (/usr/bin/python3) cannot import matplotlib: the analyst's loss plots are drawn by a plain",
  "built-in renderer instead. For matplotlib's plots install it with:",
  "  Debian/Ubuntu:  sudo apt-get install -y python3-matplotlib",
].join("\n");

/** Installs python3-matplotlib with apt-get when running as root on Debian/Ubuntu; true when matplotlib is then there. */
export function tryInstallSandboxMatplotlib(log: (line: string) => void): boolean {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) return false;
  log("the system python3 lacks matplotlib; installing python3-matplotlib with apt-get (you are root) …");
  try {
    execFileSync("apt-get", ["install", "-y", "-q", "python3-matplotlib"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch (err) {
    log(`apt-get could not install python3-matplotlib: ${(err as Error).message}`);
    return false;
  }
  return sandboxPythonHasMatplotlib();
}
