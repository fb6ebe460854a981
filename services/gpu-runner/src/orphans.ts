import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { MISSING, onCode, signalIfAlive } from "@mllead/sandbox";
import type { Logger } from "pino";

/** Written into a job's directory while its process group runs: the group id. */
export const PGID_FILE = "pgid";

/** A /proc entry read while its process exits: gone (ENOENT, or ESRCH mid-read) is an answer, not an error. */
const GONE = ["ENOENT", "ESRCH"] as const;

/**
 * The members of a process group that carry a job's marker in their environment (Linux /proc; none without it).
 * A process whose environment this runner may not read (EACCES: another user's) is not one of its jobs.
 */
async function groupMembers(pgid: number, jobId: string): Promise<number[]> {
  const marker = `MLLEAD_JOB_ID=${jobId}`;
  const out: number[] = [];
  for (const name of await readdir("/proc").catch(onCode(MISSING, [] as string[]))) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(onCode(GONE, ""));
    // Fields after the command name (which may hold spaces) start at the last ')': state, ppid, pgrp.
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    if (pgrp !== pgid) continue;
    const environ = await readFile(`/proc/${name}/environ`, "utf8").catch(onCode([...GONE, "EACCES"], ""));
    if (environ.split("\0").includes(marker)) out.push(Number(name));
  }
  return out;
}

/**
 * Kills the processes of jobs a previous run of this runner left behind when it
 * died without stopping them (SIGKILL, OOM kill, power loss of the runner alone).
 * Only processes that are in the recorded group AND carry the job's
 * `MLLEAD_JOB_ID` are touched, so a reused pid is never hit. `owned(jobId)` says
 * whether a job directory is this runner's to clean (runners may share a disk).
 *
 * Under bubblewrap the recorded pid is bwrap's, which carries the job's MLLEAD_*
 * variables (see @mllead/sandbox): killing it kills everything in the sandbox's pid
 * namespace. Its `--die-with-parent` usually did so already when the runner died.
 */
export async function reapOrphans(jobsDir: string, owned: (jobId: string) => Promise<boolean>, log: Logger): Promise<number> {
  let killed = 0;
  for (const jobId of await readdir(jobsDir).catch(onCode(MISSING, [] as string[]))) {
    const file = join(jobsDir, jobId, PGID_FILE);
    // No pid file: the job's process had ended (or never started) when its runner went.
    const pgid = Number(await readFile(file, "utf8").catch(onCode(MISSING, "")));
    if (!Number.isInteger(pgid) || pgid <= 1 || !(await owned(jobId))) continue;
    const members = await groupMembers(pgid, jobId);
    // A member that exited since it was listed is skipped (ESRCH); one whose environment was readable is ours to kill.
    for (const pid of members) if (signalIfAlive(pid, "SIGKILL")) killed += 1;
    if (members.length > 0)
      log.warn({ jobId, pgid, processes: members.length }, "killed processes of a job left behind by a runner that died");
    await rm(join(jobsDir, jobId), { recursive: true, force: true });
  }
  return killed;
}
