import type { SlurmCluster } from "@mllead/tools/slurm";

/** Prints a line and a progress update, then waits for the file GO in its work dir (or for ever). */
export const WAIT_FOR_GO = `
import os, time
print("before", flush=True)
print('::mllead-progress {"step": 1}', flush=True)
while not os.path.exists("GO"):
    time.sleep(0.05)
print("after")
`;

/** The Slurm jobs the cluster knows by a job's name (`mllead-<jobId>`): id, state, GRES per node. */
export async function slurmJobsOf(cluster: SlurmCluster, jobId: string): Promise<string[][]> {
  const out = await cluster.cli("squeue", ["-h", "--states=all", `--name=mllead-${jobId}`, "-o", "%i|%T|%b"]);
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.trim().split("|"));
}

/** The runner's settings for a Slurm backend on the test's cluster, reading job states every 200 ms. */
export const slurmEnv = (cluster: SlurmCluster) => ({
  MLLEAD_RUNNER_BACKEND: "slurm",
  SLURM_CONF: cluster.conf,
  MLLEAD_SLURM_POLL_MS: "200",
});
