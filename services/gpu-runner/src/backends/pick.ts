import type { Sandbox } from "@mllead/sandbox";
import type { Logger } from "pino";
import type { RunnerConfig } from "../config.js";
import type { InventoryPort } from "../inventory.js";
import type { JobSandboxSettings } from "../job-sandbox.js";
import type { RunnerCore } from "../runner-core.js";
import { SlurmCli } from "../slurm-cli.js";
import type { JobBackend } from "./backend.js";
import { localBackend } from "./local.js";
import { slurmBackend } from "./slurm.js";

/** A login node's inventory: the cluster schedules the GPUs, so the runner counts none of its own. */
export const slurmInventory: InventoryPort = {
  read: async () => ({ gpus: [], cpuOnlyReason: "MLLEAD_RUNNER_BACKEND=slurm: the Slurm cluster schedules the GPUs" }),
};

/** How many jobs the runner takes from NATS at once: one more than fit locally, or the Slurm jobs it follows. */
export function jobConcurrency(config: RunnerConfig, localCapacity: number): number {
  return config.MLLEAD_RUNNER_BACKEND === "slurm" ? config.MLLEAD_SLURM_MAX_JOBS : localCapacity + 1;
}

/** The backend MLLEAD_RUNNER_BACKEND names, built on the runner's core. */
export function pickBackend(
  core: Omit<RunnerCore, "backend">,
  config: RunnerConfig,
  env: Readonly<Record<string, string | undefined>>,
  sandbox: { kind: Sandbox["kind"]; settings: JobSandboxSettings },
  log: Logger,
): JobBackend {
  if (config.MLLEAD_RUNNER_BACKEND === "local") return localBackend(core);
  const slurm = new SlurmCli({
    binDir: config.MLLEAD_SLURM_BIN_DIR,
    conf: config.SLURM_CONF,
    path: env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  });
  log.info(
    {
      jobsDir: core.executor.jobsDir,
      partition: config.MLLEAD_SLURM_PARTITION ?? "(default)",
      maxJobs: config.MLLEAD_SLURM_MAX_JOBS,
      sandbox: sandbox.kind,
    },
    "jobs run as Slurm batch jobs (the jobs directory must be shared with the compute nodes)",
  );
  return slurmBackend(core, slurm, {
    pollMs: config.MLLEAD_SLURM_POLL_MS,
    partition: config.MLLEAD_SLURM_PARTITION,
    extraArgs: config.MLLEAD_SLURM_ARGS,
    sandbox: { kind: sandbox.kind, settings: sandbox.settings, bwrap: config.MLLEAD_BWRAP },
  });
}
