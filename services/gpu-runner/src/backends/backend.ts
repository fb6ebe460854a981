import type { GpuJob, JobResult } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Held } from "../held-jobs.js";

/** How one run of a claimed job ended, as far as the claim is concerned (see `runClaimedJob`). */
export type BackendRun =
  /** It ran (or could not): record and publish the result. */
  | { kind: "finished"; result: JobResult }
  /** Its devices are busy here while another runner has room: hand the claim and the message on. */
  | { kind: "busy" }
  /**
   * The runner is stopping. `handBack`: the job was stopped, release the claim so it runs again at once; else the
   * claim stays this runner's (a Slurm job that goes on, followed again by the restarted runner).
   */
  | { kind: "shutdown"; handBack: boolean; reason: string };

/**
 * Where jobs run: `local` (this host's GPUs, sandboxed processes) or `slurm` (batch jobs on the team's cluster),
 * chosen by MLLEAD_RUNNER_BACKEND. Claims, intake, resume and cancellations are the same for both.
 */
export interface JobBackend {
  readonly kind: "local" | "slurm";
  /** Whether this runner itself places jobs on GPUs it has (local), rather than a cluster scheduler (slurm). */
  readonly placesOnOwnGpus: boolean;
  /** Runs the claimed job (a cancelled one is stopped through `h.abort`); resolves when the claim's run is over. */
  run(job: GpuJob, h: Held, log: Logger): Promise<BackendRun>;
}
