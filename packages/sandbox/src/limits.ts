import type { CgroupLimiter } from "./cgroup.js";
import type { SandboxLimits } from "./policy.js";

/**
 * How each limit is enforced on this host: `cgroup` (pids.max, memory.max), `rlimit`
 * (prlimit), or `none` — no cgroup could be made and the rlimit cannot bind here
 * (RLIMIT_NPROC does not apply to root), or prlimit is missing. The sandbox's pid
 * namespace and the run's timeout remain the backstop for processes.
 */
export interface LimitEnforcement {
  processes: "cgroup" | "rlimit" | "none";
  memory: "cgroup" | "rlimit" | "none";
  fileSize: "rlimit" | "none";
}

/** A run's launcher: argv to put before bwrap (or the command), and cleanup after it ended. */
export interface Launch {
  prefix: string[];
  close(): Promise<void>;
}

// Joins each cgroup given before `--` (so every process the command starts is in it from the first), then execs the rest.
const JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

/** Puts a run under its limits: cgroups where they can be made, rlimits (via util-linux `prlimit`) for the rest. */
export class Limiter {
  constructor(
    private readonly cgroups: CgroupLimiter | null,
    private readonly prlimit: string | null,
    private readonly isRoot: boolean,
  ) {}

  /** What this host enforces and how. */
  get enforcement(): LimitEnforcement {
    const cg = this.cgroups?.controls ?? { processes: false, memory: false };
    const rl = this.prlimit !== null;
    return {
      processes: cg.processes ? "cgroup" : rl && !this.isRoot ? "rlimit" : "none",
      memory: cg.memory ? "cgroup" : rl ? "rlimit" : "none",
      fileSize: rl ? "rlimit" : "none",
    };
  }

  /**
   * The launcher for one run. Memory goes to a cgroup when possible rather than
   * RLIMIT_AS: address space is not memory, and CUDA or OpenBLAS reserve far more
   * of it than they use. Core dumps are off (they would land in the workdir).
   */
  async prepare(limits: SandboxLimits): Promise<Launch> {
    const cg = this.cgroups?.controls ?? { processes: false, memory: false };
    const cgLimits = {
      processes: cg.processes ? limits.processes : undefined,
      memoryBytes: cg.memory ? limits.memoryBytes : undefined,
    };
    const run =
      this.cgroups && (cgLimits.processes ?? cgLimits.memoryBytes) !== undefined ? await this.cgroups.create(cgLimits) : null;
    const prefix: string[] = [];
    if (run && run.procsFiles.length > 0) prefix.push("/bin/sh", "-c", JOIN_CGROUPS, "sh", ...run.procsFiles, "--");
    if (this.prlimit) {
      const rl = ["--core=0"];
      if (limits.fileSizeBytes !== undefined) rl.push(`--fsize=${limits.fileSizeBytes}`);
      if (limits.processes !== undefined && !cg.processes) rl.push(`--nproc=${limits.processes}`);
      if (limits.memoryBytes !== undefined && !cg.memory) rl.push(`--as=${limits.memoryBytes}`);
      prefix.push(this.prlimit, ...rl, "--");
    }
    return { prefix, close: async () => run?.close() };
  }
}
