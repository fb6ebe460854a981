import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsTimeoutError } from "@mllead/bus/testing";
import { testGpuJob } from "@mllead/contracts/testing";
import type { ProcessOutcome, ProcessSpec } from "@mllead/sandbox";
import type { ObjectStore } from "@nats-io/obj";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TransientFailureError } from "./errors.js";
import { type ExecutorDeps, executeJob } from "./job-executor.js";

const log = pino({ level: "silent" });

/**
 * An Object Store holding `objects` whose every `get` fails with `failure` while `down()` says so (as nats.js's
 * `get` does while the store's stream has no leader); `put` keeps what is uploaded.
 */
function objectStore(objects: Record<string, string>, down: () => Error | null) {
  const get = async (name: string) => {
    const failure = down();
    if (failure) throw failure;
    const text = objects[name];
    if (text === undefined) return null;
    const data = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
    return { data, error: Promise.resolve(null) };
  };
  const put = async (meta: { name: string }, body: ReadableStream<Uint8Array>) => {
    let size = 0;
    for await (const chunk of body) size += chunk.byteLength;
    return { name: meta.name, size };
  };
  return { get, put } as unknown as ObjectStore;
}

let jobsDir: string;
beforeEach(async () => {
  jobsDir = await mkdtemp(join(tmpdir(), "mllead-executor-"));
});
afterEach(async () => {
  await rm(jobsDir, { recursive: true, force: true });
});

/** Executor dependencies whose process runner reads the job's input file instead of starting a process. */
function deps(os: ObjectStore, ran: string[]): ExecutorDeps {
  return {
    jobsDir,
    host: "test-host",
    hostEnv: { PATH: "/usr/bin:/bin" },
    envPass: [],
    killGraceMs: 100,
    progressIntervalMs: 100,
    logMaxBytes: 1024 * 1024,
    artifactMaxBytes: 1024 * 1024,
    keepJobDirs: false,
    objects: async () => os,
    runSandboxed: async (spec: ProcessSpec): Promise<ProcessOutcome> => {
      ran.push(await readFile(join(spec.cwd, "data/input.txt"), "utf8"));
      return { exitCode: 0, signal: null, timedOut: false, stopped: false, durationMs: 1 };
    },
    sandboxSettings: { dataDirs: [], network: false, maxProcesses: 64 },
    deviceNodes: () => [],
  };
}

const job = testGpuJob({ inputs: [{ objectName: "tasks/t1/inputs/input.txt", path: "data/input.txt" }] });
const allocation = { devices: [], cudaVisibleDevices: "" };
const options = { onProgress: () => {}, signal: new AbortController().signal, log };

describe("executeJob while fetching the job's inputs", () => {
  it("hands the job back (throws a TransientFailureError, fails nothing) while NATS does not answer, and runs it once NATS is back", async () => {
    let failure: Error | null = natsTimeoutError();
    const ran: string[] = [];
    const d = deps(
      objectStore({ "tasks/t1/inputs/input.txt": "the data" }, () => failure),
      ran,
    );
    // `onStart` is where job.started goes out: a job handed back has not started, so a later run reports it once.
    const started: string[] = [];
    const opts = { ...options, onStart: async () => void started.push(job.jobId) };
    const handedBack = await executeJob(d, job, allocation, opts).catch((err: unknown) => err);
    expect(handedBack).toBeInstanceOf(TransientFailureError);
    expect((handedBack as Error).message).toMatch(/could not reach the job's inputs: NATS did not answer/);
    expect(ran).toEqual([]);
    expect(started).toEqual([]);
    // Nothing is left behind for the next delivery: the job directory goes with the run.
    expect(existsSync(join(jobsDir, job.jobId))).toBe(false);

    failure = null;
    const exec = await executeJob(d, job, allocation, opts);
    expect(exec.result).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    expect(ran).toEqual(["the data"]);
    expect(started).toEqual([job.jobId]);
  }, 20_000);

  it("fails the job with a clear message when an input is not in the Object Store", async () => {
    const ran: string[] = [];
    const exec = await executeJob(
      deps(
        objectStore({}, () => null),
        ran,
      ),
      job,
      allocation,
      options,
    );
    expect(exec.result.outcome).toBe("failed");
    expect(exec.result.logTail).toContain(
      "[mllead] could not prepare the job: input 'tasks/t1/inputs/input.txt' is not in the object store",
    );
    expect(ran).toEqual([]);
  });

  it("fails the job when the Object Store refuses for a reason that lasts", async () => {
    const ran: string[] = [];
    const exec = await executeJob(
      deps(
        objectStore({}, () => new Error("permission denied")),
        ran,
      ),
      job,
      allocation,
      options,
    );
    expect(exec.result.outcome).toBe("failed");
    expect(exec.result.logTail).toContain("[mllead] could not prepare the job: permission denied");
  });
});
