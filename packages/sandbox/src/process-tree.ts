import { readdirSync, readFileSync } from "node:fs";
import { hasCode, MISSING, signalIfAlive } from "./errno.js";

/** The pids whose parent is `pid` (Linux /proc; the `children` file where the kernel has it, else a scan). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch (err) {
    // No such file: CONFIG_PROC_CHILDREN is off (or the process is gone), so scan every process's parent.
    if (!hasCode(err, MISSING)) throw err;
  }
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch (err) {
      // The process exited between the listing and the read.
      if (hasCode(err, [...MISSING, "ESRCH"])) continue;
      throw err;
    }
    // Fields after the command name (which may hold spaces) start at the last ')': state, ppid.
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
  }
  return out;
}

/**
 * The polite stop for a bwrap sandbox: SIGTERM to the process group of bwrap's
 * child, the sandbox's init, which `--new-session` made a group leader. The command
 * and what it started get the signal and their grace; init, as pid 1 of its
 * namespace, ignores it; bwrap itself is spared, because bwrap dying takes the
 * whole sandbox down with SIGKILL at once (`--die-with-parent`), leaving no grace.
 */
export function softStopSandbox(bwrapPid: number): void {
  for (const init of childPids(bwrapPid)) signalIfAlive(-init, "SIGTERM");
}
