import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * The host's python3 that has numpy, as a sandbox must be told about it: the
 * directories it lives in when they are outside /usr (pyenv, a venv, conda), to
 * mount read-only, and a PATH that finds it there first.
 */
export function hostPythonWithNumpy(): { path: string; dirs: string[] } {
  const out = execFileSync("python3", ["-c", "import sys, numpy; print(sys.prefix); print(sys.base_prefix)"], {
    encoding: "utf8",
  });
  const dirs = [...new Set(out.trim().split("\n"))].filter((p) => p !== "/usr" && !p.startsWith("/usr/"));
  return { path: [...dirs.map((p) => join(p, "bin")), "/usr/local/bin", "/usr/bin", "/bin"].join(":"), dirs };
}
