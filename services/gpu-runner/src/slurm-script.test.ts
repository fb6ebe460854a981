import { execFileSync } from "node:child_process";
import type { GpuJob } from "@mllead/contracts";
import { testGpuJob } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { sbatchArgs, shellQuote, slurmMinutes } from "./slurm-script.js";

const job = (over: Partial<GpuJob> = {}) => testGpuJob({ gpus: 2, timeoutSec: 90, ...over });

const dirs = { root: "/shared/jobs/j1", work: "/shared/jobs/j1/work", artifacts: "/shared/jobs/j1/artifacts" };

describe("the batch script's pieces", () => {
  it("quotes any text as one bash word that bash gives back unchanged", () => {
    for (const s of ["plain", "it's", "$(rm -rf /) `x` $HOME", 'a "b" \\ c', "line\nbreak", ""]) {
      expect(execFileSync("/bin/bash", ["-c", `printf %s ${shellQuote(s)}`]).toString()).toBe(s);
    }
  });

  it("asks sbatch for the job's GPUs as GRES, its time in whole minutes (at least the job's), no environment, no requeue", () => {
    expect(sbatchArgs(job(), dirs, { partition: "gpu", extra: ["--account=ml"] })).toEqual([
      "--job-name=mllead-j1",
      "--output=/shared/jobs/j1/slurm.out",
      "--chdir=/shared/jobs/j1",
      "--export=NONE",
      "--nodes=1",
      "--ntasks=1",
      "--no-requeue",
      "--time=2",
      "--gres=gpu:2",
      "--partition=gpu",
      "--account=ml",
    ]);
    expect(sbatchArgs(job({ gpus: 0 }), dirs, { extra: [] })).not.toContain("--gres=gpu:0");
    expect([slurmMinutes(1), slurmMinutes(60), slurmMinutes(61)]).toEqual([1, 1, 2]);
  });
});
