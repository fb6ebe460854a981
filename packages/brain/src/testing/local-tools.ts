import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { promisify } from "node:util";
import { contentTypeFor } from "@mllead/bus";
import { type Artifact, JobProgress, type JobProgress as JobProgressT, type JobResult, PROGRESS_PREFIX } from "@mllead/contracts";
import { ConfinedFs, runCommand } from "@mllead/sandbox";
import pino, { type Logger } from "pino";
import type { CommandResult, FileListing, GpuJobSpec, StepTools } from "../types.js";

/** Options of `createLocalTools`. */
export interface LocalToolsOptions {
  /** Used in artifact object names; default `t-local`. */
  taskId?: string;
  /** The directory holding workspace, artifact store and job dirs; a fresh temp dir when absent (removed on dispose). */
  baseDir?: string;
  /** Data dirs the file tools may read by absolute path (never write); given, they are also in `sandbox`. */
  dataDirs?: readonly string[];
  log?: Logger;
}

/** One GPU job that ran locally, for assertions. */
export interface LocalJobRecord {
  jobId: string;
  spec: GpuJobSpec;
  dir: string;
  progress: JobProgressT[];
  result: JobResult;
}

/** `StepTools` over local directories, plus what tests want to inspect. */
export interface LocalTools extends StepTools, AsyncDisposable {
  /** The task workspace every path is relative to. */
  readonly workspace: string;
  /** Where saved artifacts are kept, by object name. */
  readonly store: string;
  /** Every `progress()` message, in order. */
  readonly messages: string[];
  /** Every GPU job that ran, in order. */
  readonly jobs: LocalJobRecord[];
  /** Removes the temp directory (when this created it). */
  dispose(): Promise<void>;
}

const MAX_OUTPUT = 1024 * 1024;
/** As the specialist's workspace: the largest file read as text, the most files a listing walks. */
const MAX_READ_BYTES = 1024 * 1024;
const MAX_LISTED = 10_000;
const SKIPPED_DIRS: ReadonlySet<string> = new Set([".git", "node_modules", "__pycache__", ".venv"]);

/** Resolves a relative path inside `root`, refusing anything that escapes it. */
function inside(root: string, path: string): string {
  const full = resolve(root, path);
  if (full !== root && !full.startsWith(root + sep)) throw new Error(`path '${path}' leaves the workspace`);
  return full;
}

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(full, base)));
    else if (e.isFile()) out.push(relative(base, full).split(sep).join("/"));
  }
  return out.sort();
}

/**
 * The paths git ignores in `workspace` when it is a git repository (directories as `dir/`), as the
 * specialist's tools leave them out of Glob and Grep; none otherwise. A test double: plain git, run there.
 */
async function ignoredPaths(workspace: string): Promise<ReadonlySet<string>> {
  if (!existsSync(join(workspace, ".git"))) return new Set();
  const { stdout } = await promisify(execFile)(
    "git",
    ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
    { cwd: workspace, maxBuffer: 64 * 1024 * 1024 },
  );
  return new Set(stdout.split("\0").filter(Boolean));
}

/**
 * Runs argv in the shared sandbox (own process group, killed on timeout). A test
 * helper: children inherit this process's environment (PATH finds python3) plus the extras.
 */
function exec(
  argv: string[],
  cwd: string,
  extra: Record<string, string> | undefined,
  timeoutSec: number,
  signal: AbortSignal | undefined,
  onLine?: (line: string) => void,
): Promise<CommandResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...extra })) if (v !== undefined) env[k] = v;
  const stop = signal ? { signal } : {};
  if (!onLine) return runCommand(argv, { cwd, env, timeoutMs: timeoutSec * 1000, maxOutputBytes: MAX_OUTPUT, ...stop });
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const split = (text: string) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  };
  return runCommand(argv, {
    cwd,
    env,
    timeoutMs: timeoutSec * 1000,
    maxOutputBytes: MAX_OUTPUT,
    ...stop,
    onStdout: (chunk) => split(decoder.write(chunk)),
  }).then((r) => {
    split(decoder.end());
    if (pending) onLine(pending);
    return r;
  });
}

/**
 * A real `StepTools` for tests and local runs: a workspace directory (reached
 * through `ConfinedFs`, as the specialist's, so no symbolic link leads out of it),
 * an artifact store directory, subprocesses for `run` (not sandboxed), and
 * `runGpuJob` running the job's command locally in its own directory with
 * `MLLEAD_ARTIFACTS_DIR` set.
 */
export async function createLocalTools(opts: LocalToolsOptions = {}): Promise<LocalTools> {
  const owned = opts.baseDir === undefined;
  const base = opts.baseDir ?? (await mkdtemp(join(tmpdir(), "mllead-tools-")));
  const taskId = opts.taskId ?? "t-local";
  const workspace = join(base, "workspace");
  const store = join(base, "store");
  const jobsDir = join(base, "jobs");
  await Promise.all([workspace, store, jobsDir].map((d) => mkdir(d, { recursive: true })));
  const messages: string[] = [];
  const jobs: LocalJobRecord[] = [];
  const log = opts.log ?? pino({ level: "silent" });
  const dataDirs = [...(opts.dataDirs ?? [])];
  const files = new ConfinedFs(workspace, {
    readOnlyDirs: dataDirs,
    onCleanupError: (err, what) => log.warn({ err }, `${what} failed`),
  });

  async function putObject(objectName: string, source: string, name: string, contentType: string): Promise<Artifact> {
    const target = inside(store, objectName);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(source, target);
    return { name, objectName, contentType, bytes: (await stat(target)).size };
  }

  const tools: LocalTools = {
    workspace,
    root: workspace,
    store,
    messages,
    jobs,
    log,
    ...(dataDirs.length > 0
      ? { sandbox: { kind: "process" as const, network: true, dataDirs, warning: "local tools: commands are not sandboxed" } }
      : {}),
    async readFile(path) {
      return (await files.readFile(path, MAX_READ_BYTES)).toString("utf8");
    },
    async writeFile(path, content) {
      await files.writeFile(path, content);
    },
    async readBytes(path, range) {
      return files.readRange(path, range);
    },
    async listFiles() {
      return (await files.list(".", { maxFiles: MAX_LISTED, skipDirs: SKIPPED_DIRS })).files;
    },
    async findFiles(path, findOpts) {
      const ignored = await ignoredPaths(workspace);
      const listing = await files.list(path, {
        maxFiles: findOpts?.maxFiles ?? MAX_LISTED,
        skipDirs: SKIPPED_DIRS,
        skip: (shown) => ignored.has(shown),
      });
      const out: FileListing = { files: listing.files, truncated: listing.truncated };
      return listing.skipped ? { ...out, ignored: listing.skipped } : out;
    },
    async run(argv, runOpts) {
      return exec(argv, workspace, runOpts?.env, runOpts?.timeoutSec ?? 300, runOpts?.signal);
    },
    async saveArtifact(path, saveOpts) {
      const source = await files.openFile(path);
      const objectName = `${taskId}/${source.path}`;
      const target = inside(store, objectName);
      const stream = source.handle.createReadStream();
      try {
        await mkdir(dirname(target), { recursive: true });
        await pipeline(stream, createWriteStream(target));
      } finally {
        // A stream left unfinished holds the handle open: close() would wait for it.
        stream.destroy();
        await source.handle.close();
      }
      const contentType = saveOpts?.contentType ?? contentTypeFor(source.path);
      return { name: source.path, objectName, contentType, bytes: (await stat(target)).size };
    },
    async fetchArtifact(artifact, path) {
      const source = inside(store, artifact.objectName);
      await files.replaceFile(path, (handle) => pipeline(createReadStream(source), handle.createWriteStream()));
    },
    async runGpuJob(spec, jobOpts) {
      const jobId = `job-${jobs.length + 1}`;
      const dir = join(jobsDir, jobId);
      const out = join(dir, "artifacts");
      await mkdir(out, { recursive: true });
      let shipped: { files: number; bytes: number; leftOut: string[] } | undefined;
      if (spec.worktree) {
        // The worktree as the specialist ships it: every file Glob sees (ignored ones left out), copied as it is.
        const listing = await tools.findFiles(".");
        let bytes = 0;
        for (const rel of listing.files) {
          const full = inside(dir, rel);
          await mkdir(dirname(full), { recursive: true });
          await copyFile(join(workspace, rel), full);
          bytes += (await stat(full)).size;
        }
        shipped = { files: listing.files.length, bytes, leftOut: [] };
      }
      for (const f of spec.files ?? []) {
        const full = inside(dir, f.path);
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, f.content);
      }
      for (const i of spec.inputs ?? []) {
        const full = inside(dir, i.path);
        await mkdir(dirname(full), { recursive: true });
        await copyFile(inside(store, i.objectName), full);
      }
      const progress: JobProgressT[] = [];
      const started = Date.now();
      const env = { ...(spec.env ?? {}), MLLEAD_ARTIFACTS_DIR: out, CUDA_VISIBLE_DEVICES: "" };
      const r = await exec(spec.command, dir, env, spec.timeoutSec ?? 3600, jobOpts?.signal, (line) => {
        if (!line.startsWith(PROGRESS_PREFIX)) return;
        try {
          const p = JobProgress.safeParse(JSON.parse(line.slice(PROGRESS_PREFIX.length)));
          if (p.success) progress.push(p.data);
        } catch {
          // A malformed progress line is only a log line.
        }
      });
      const metrics: Record<string, number> = {};
      try {
        const raw = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as Record<string, unknown>;
        for (const [k, v] of Object.entries(raw)) if (typeof v === "number" && Number.isFinite(v)) metrics[k] = v;
      } catch {
        // No metrics.json: the job reported none.
      }
      const artifacts: Artifact[] = [];
      for (const rel of await walk(out)) {
        artifacts.push(await putObject(`${taskId}/jobs/${jobId}/${rel}`, join(out, rel), rel, contentTypeFor(rel)));
      }
      const result: JobResult = {
        outcome: r.timedOut ? "timed_out" : r.exitCode === 0 ? "succeeded" : "failed",
        exitCode: r.exitCode,
        signal: r.timedOut ? "SIGKILL" : null,
        durationMs: Date.now() - started,
        metrics,
        artifacts,
        logTail: `${r.stdout}\n${r.stderr}`
          .trim()
          .split("\n")
          .slice(-50)
          .map((l) => l.slice(0, 1000)),
        host: "local",
      };
      jobs.push({ jobId, spec, dir, progress, result });
      return shipped ? { jobId, result, shipped } : { jobId, result };
    },
    async progress(message) {
      messages.push(message);
    },
    async dispose() {
      if (owned) await rm(base, { recursive: true, force: true });
    },
    async [Symbol.asyncDispose]() {
      await tools.dispose();
    },
  };
  return tools;
}
