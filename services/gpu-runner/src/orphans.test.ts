import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox, type ProcessOutcome } from "@mllead/sandbox";
import { createLogger } from "@mllead/service-kit";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PGID_FILE, reapOrphans } from "./orphans.js";

const log = createLogger("orphans-test", "silent");
let jobsDir: string;
beforeEach(async () => {
  jobsDir = await mkdtemp(join(tmpdir(), "mllead-orphans-"));
});
afterEach(async () => {
  await rm(jobsDir, { recursive: true, force: true });
});

/** Host pids whose command line holds `token`. */
function withToken(token: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(token);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("reapOrphans", () => {
  for (const mode of ["auto", "process"] as const) {
    it(`kills a job left running from its recorded pid (sandbox mode ${mode}), and only a job it owns`, async () => {
      const sandbox = await createSandbox({ mode });
      const token = `orphan-${mode}-${Math.random().toString(36).slice(2)}`;
      const start = async (jobId: string) => {
        const work = join(jobsDir, jobId, "work");
        await mkdir(work, { recursive: true });
        let started!: () => void;
        const up = new Promise<void>((r) => {
          started = r;
        });
        const done = sandbox.runProcess({
          argv: ["sh", "-c", `sleep 300 & echo ${token} up; wait`],
          cwd: work,
          env: { PATH: "/usr/bin:/bin", MLLEAD_JOB_ID: jobId },
          timeoutMs: 60_000,
          killGraceMs: 100,
          onSpawn: (pid) => writeFileSync(join(jobsDir, jobId, PGID_FILE), String(pid)),
          onStdout: () => started(),
          onStderr: () => undefined,
          policy: { workdir: work, network: false, limits: {} },
        });
        await up;
        // Wrapped: an async function returning the promise itself would wait for the run to end.
        return { done };
      };
      const mine = await start("job-mine");
      const theirs = await start("job-theirs");
      expect(withToken(token).length).toBeGreaterThan(0);

      const killed = await reapOrphans(jobsDir, async (jobId) => jobId === "job-mine", log);
      expect(killed).toBeGreaterThan(0);
      const outcome: ProcessOutcome = await mine.done;
      // Under bubblewrap the recorded pid is bwrap's: killing it takes the sandbox down (--die-with-parent).
      expect(outcome.signal ?? outcome.exitCode).toBeTruthy();
      await vi.waitFor(() => expect(readdirSync(jobsDir)).toEqual(["job-theirs"]));

      // The other runner's job was left alone; once it is this runner's to clean, it goes too.
      expect(readFileSync(join(jobsDir, "job-theirs", PGID_FILE), "utf8")).toMatch(/^\d+$/);
      expect(withToken(token).length).toBeGreaterThan(0);
      await reapOrphans(jobsDir, async () => true, log);
      await theirs.done;
      await vi.waitFor(() => expect(withToken(token)).toEqual([]), { timeout: 5000 });
    });
  }
});
