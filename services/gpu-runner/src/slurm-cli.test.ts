import { describe, expect, it } from "vitest";
import { outcomeFromSlurm } from "./backends/slurm-follow.js";
import { SlurmCommandError } from "./errors.js";
import { outcomeOf } from "./job-executor.js";
import { isTransientSlurmError, parseDuration, parseExitCode, parseSacctJob, parseScontrolJob } from "./slurm-cli.js";

// As slurmctld 22.05 prints them (`scontrol show job -o <id>`), shortened to the fields around the ones read.
const RUNNING =
  "JobId=2 JobName=mllead-j1 UserId=root(0) GroupId=root(0) JobState=RUNNING Reason=None Dependency=(null) Requeue=0 " +
  "Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:01:03 TimeLimit=00:02:00 NodeList=gpu-07 BatchHost=gpu-07 " +
  "Command=/shared/jobs/j1/job.sbatch WorkDir=/shared/jobs/j1 TresPerNode=gres:gpu:2";
const PENDING = "JobId=5 JobName=mllead-j2 JobState=PENDING Reason=Resources ExitCode=0:0 RunTime=00:00:00 BatchHost=(null)";
const CANCELLED = "JobId=3 JobName=long.sh JobState=CANCELLED Reason=None ExitCode=0:15 RunTime=00:00:02 BatchHost=localhost";
const FAILED = "JobId=1 JobName=mllead-x JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 RunTime=1-02:00:03 BatchHost=n1";
const TIMEOUT = "JobId=9 JobName=mllead-t JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0 RunTime=00:01:31 BatchHost=n1";

describe("reading Slurm's answers", () => {
  it("reads scontrol's job line: state, finality, exit code or signal, run time, node, reason", () => {
    expect(parseScontrolJob(RUNNING)).toEqual({
      state: "RUNNING",
      final: false,
      exitCode: 0,
      signal: null,
      runSec: 63,
      node: "gpu-07",
      reason: null,
    });
    expect(parseScontrolJob(PENDING)).toMatchObject({ state: "PENDING", final: false, node: null, reason: "Resources" });
    expect(parseScontrolJob(CANCELLED)).toMatchObject({ state: "CANCELLED", final: true, exitCode: null, signal: "SIGTERM" });
    expect(parseScontrolJob(FAILED)).toMatchObject({ state: "FAILED", final: true, exitCode: 3, runSec: 93_603 });
    expect(() => parseScontrolJob("JobId=1 Nonsense")).toThrow(/no JobState/);
  });

  it("reads sacct's parsable line, `CANCELLED by <uid>` included", () => {
    expect(parseSacctJob("CANCELLED by 0|0:15|12|n1")).toMatchObject({
      state: "CANCELLED",
      final: true,
      signal: "SIGTERM",
      runSec: 12,
    });
    expect(parseSacctJob("COMPLETED|0:0|40|n2")).toMatchObject({ state: "COMPLETED", exitCode: 0, node: "n2" });
    expect(parseSacctJob("PENDING|0:0|0|None assigned")).toMatchObject({ final: false, node: null });
  });

  it("reads durations and exit codes", () => {
    expect(parseDuration("01:02")).toBe(62);
    expect(parseDuration("2-00:00:01")).toBe(172_801);
    expect(parseDuration("INVALID")).toBe(0);
    expect(parseExitCode("137:0")).toEqual({ exitCode: 137, signal: null });
    expect(parseExitCode("0:9")).toEqual({ exitCode: null, signal: "SIGKILL" });
  });

  it("maps a Slurm job's end to the job's outcome: TIMEOUT is timed_out, any other end but COMPLETED fails", () => {
    const end = (line: string, byRunner = false) => outcomeOf(outcomeFromSlurm(parseScontrolJob(line), byRunner));
    expect(end(TIMEOUT)).toBe("timed_out");
    expect(end(CANCELLED)).toBe("cancelled");
    expect(end(CANCELLED, true)).toBe("timed_out");
    expect(end(FAILED)).toBe("failed");
    expect(end(TIMEOUT.replace("TIMEOUT", "NODE_FAIL"))).toBe("failed");
    expect(end(TIMEOUT.replace("TIMEOUT", "OUT_OF_MEMORY"))).toBe("failed");
    expect(end(TIMEOUT.replace("TIMEOUT", "COMPLETED"))).toBe("succeeded");
  });
});

describe("telling a passing sbatch refusal from a lasting one", () => {
  // As SlurmCli words a failed sbatch: its exit status and stderr. Measured with sbatch 22.05 against the tests'
  // one-node cluster: the socket timeout (slurmctld stopped with SIGSTOP; sbatch gave up after 10 s), the connect
  // failure (slurmctld killed), and the first three refusals and the bad option below (GPUs the node lacks, a GRES
  // it does not know, an unknown partition). The others are slurm_errno.c's and sbatch's texts for the same cases.
  const failed = (stderr: string, code = 1) => new SlurmCommandError(`sbatch exited with ${code}: ${stderr.trim()}`);

  it("asks again when slurmctld does not answer now", () => {
    for (const stderr of [
      "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
      "sbatch: error: Batch job submission failed: Resource temporarily unavailable",
      "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying",
      "sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received",
      "sbatch: error: Batch job submission failed: Communication connection failure",
      "sbatch: error: Batch job submission failed: Slurm backup controller in standby mode",
    ])
      expect(isTransientSlurmError(failed(stderr)), stderr).toBe(true);
    expect(isTransientSlurmError(new SlurmCommandError("sbatch did not answer in 60 s"))).toBe(true);
  });

  it("fails at once on a request Slurm will never accept, and on anything it does not know", () => {
    for (const [stderr, code] of [
      ["sbatch: error: Batch job submission failed: Requested node configuration is not available", 1],
      ["sbatch: error: Invalid generic resource (gres) specification", 1],
      [
        "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified",
        1,
      ],
      ["sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified", 1],
      ["sbatch: error: Batch job submission failed: Invalid qos specification", 1],
      ["sbatch: unrecognized option '--frobnicate'\nTry \"sbatch --help\" for more information", 255],
    ] as const)
      expect(isTransientSlurmError(failed(stderr, code)), stderr).toBe(false);
    expect(isTransientSlurmError(new SlurmCommandError("sbatch could not be run: spawn sbatch ENOENT"))).toBe(false);
    // A NATS timeout is not Slurm's: it is told apart elsewhere (isTransientNatsError).
    expect(isTransientSlurmError(Object.assign(new Error("Socket timed out"), { name: "TimeoutError" }))).toBe(false);
  });
});
