import { describe, expect, it } from "vitest";
import { outcomeFromSlurm } from "./backends/slurm-follow.js";
import { outcomeOf } from "./job-executor.js";
import { parseDuration, parseExitCode, parseSacctJob, parseScontrolJob } from "./slurm-cli.js";

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
