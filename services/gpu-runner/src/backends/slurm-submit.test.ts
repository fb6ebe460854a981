import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlurmCommandError, TransientFailureError } from "../errors.js";
import { SlurmCli, type SlurmPort } from "../slurm-cli.js";
import { submitPatiently } from "./slurm-submit.js";

const log = pino({ level: "silent" });
const TIMED_OUT = "sbatch exited with 1: sbatch: error: Batch job submission failed: Socket timed out on send/recv operation";
const BAD_GRES =
  "sbatch exited with 1: sbatch: error: Batch job submission failed: Requested node configuration is not available";
const submission = { script: "/shared/jobs/j1/job.sbatch", args: ["--gres=gpu:2"], name: "mllead-j1" };
const quick = { tries: 4, waitMs: () => 10 };

/**
 * A Slurm whose sbatch answers `answers` in turn (a job id, or an error's message to fail with). With `lost`, a
 * submission that fails reached the controller all the same: its job (id 100 + n) is queued at once (`now`), or
 * only once a later sbatch gets through (`later`, as a slurmctld resumed after SIGSTOP works off its backlog).
 */
function slurm(answers: string[], lost?: "now" | "later") {
  const submitted: string[] = [];
  const queue: string[] = [];
  const backlog: string[] = [];
  const cancelled: string[] = [];
  const port: SlurmPort = {
    submit: async () => {
      const answer = answers[submitted.length] ?? "no answer left";
      submitted.push(answer);
      if (/^\d+$/.test(answer)) {
        queue.push(...backlog.splice(0), answer);
        return answer;
      }
      if (lost === "now") queue.push(String(100 + submitted.length));
      if (lost === "later") backlog.push(String(100 + submitted.length));
      throw new SlurmCommandError(answer);
    },
    findByName: async () => queue.at(-1) ?? null,
    activeByName: async () => queue.filter((id) => !cancelled.includes(id)),
    show: async () => null,
    cancel: async (id) => {
      cancelled.push(id);
    },
  };
  return { port, submitted, cancelled };
}

describe("submitPatiently", () => {
  it("asks again while slurmctld does not answer, then takes the job id", async () => {
    const s = slurm([TIMED_OUT, TIMED_OUT, "17"]);
    const id = await submitPatiently(s.port, submission, { retry: quick, stop: new AbortController().signal, log });
    expect(id).toBe("17");
    expect(s.submitted).toHaveLength(3);
  });

  it("fails at once when Slurm refuses the request itself", async () => {
    const s = slurm([BAD_GRES, "17"]);
    const err = await submitPatiently(s.port, submission, { retry: quick, stop: new AbortController().signal, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SlurmCommandError);
    expect(err).not.toBeInstanceOf(TransientFailureError);
    expect((err as Error).message).toContain("Requested node configuration is not available");
    expect(s.submitted).toHaveLength(1);
  });

  it("does not submit twice when a timed-out submission reached the controller: it follows that job", async () => {
    const s = slurm([TIMED_OUT, "17"], "now");
    const id = await submitPatiently(s.port, submission, { retry: quick, stop: new AbortController().signal, log });
    expect(id).toBe("101");
    expect(s.submitted).toHaveLength(1);
    expect(s.cancelled).toEqual([]);
  });

  it("cancels the job of a timed-out submission that the controller queued only when it answered again", async () => {
    const s = slurm([TIMED_OUT, "17"], "later");
    const id = await submitPatiently(s.port, submission, { retry: quick, stop: new AbortController().signal, log });
    expect(id).toBe("17");
    expect(s.submitted).toHaveLength(2);
    expect(s.cancelled).toEqual(["101"]);
  });

  it("hands the job back when slurmctld stays silent through every try, or the runner stops meanwhile", async () => {
    const silent = slurm([TIMED_OUT, TIMED_OUT, TIMED_OUT, TIMED_OUT, "17"]);
    const err = await submitPatiently(silent.port, submission, { retry: quick, stop: new AbortController().signal, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientFailureError);
    expect((err as Error).message).toMatch(/^Slurm did not accept the job after 4 tries: .*Socket timed out/);
    expect(silent.submitted).toHaveLength(4);

    const stopping = slurm([TIMED_OUT, "17"]);
    const stop = new AbortController();
    const started = Date.now();
    const pending = submitPatiently(stopping.port, submission, {
      retry: { tries: 4, waitMs: () => 60_000 },
      stop: stop.signal,
      log,
    });
    setTimeout(() => stop.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(TransientFailureError);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stopping.submitted).toHaveLength(1);
  });
});

describe("submitPatiently through the real CLI wrapper", () => {
  let bin: string;
  beforeEach(async () => {
    bin = await mkdtemp(join(tmpdir(), "mllead-fake-slurm-"));
  });
  afterEach(async () => {
    await rm(bin, { recursive: true, force: true });
  });

  /**
   * An sbatch that, as the real one does against a stopped slurmctld, prints the socket timeout and exits 1 for its
   * first `failures` calls, then prints a job id; and a squeue that knows no job.
   */
  async function fakeSlurm(failures: number): Promise<void> {
    await writeFile(
      join(bin, "sbatch"),
      `#!/bin/sh
n=$(cat "${bin}/calls" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "${bin}/calls"
if [ "$n" -le ${failures} ]; then
  echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
  exit 1
fi
echo "42;cluster"
`,
    );
    await writeFile(join(bin, "squeue"), "#!/bin/sh\nexit 0\n");
    await chmod(join(bin, "sbatch"), 0o755);
    await chmod(join(bin, "squeue"), 0o755);
  }

  it("submits once sbatch stops timing out, reading its exit status and stderr", async () => {
    await fakeSlurm(2);
    const cli = new SlurmCli({ binDir: bin, path: "/usr/bin:/bin" });
    const id = await submitPatiently(cli, submission, { retry: quick, stop: new AbortController().signal, log });
    expect(id).toBe("42");
    expect((await readFile(join(bin, "calls"), "utf8")).trim()).toBe("3");
  });
});
