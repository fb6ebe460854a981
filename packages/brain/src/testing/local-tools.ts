import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { contentTypeFor } from "@mllead/bus";
import { ConfinedFs } from "@mllead/sandbox";
import pino, { type Logger } from "pino";
import type { FileListing, StepTools } from "../types.js";
import { exec, inside, type LocalJobRecord, runLocalJob } from "./local-run.js";

/** Options of `createLocalTools`. */
interface LocalToolsOptions {
  /** Used in artifact object names; default `t-local`. */
  taskId?: string;
  /** The directory holding workspace, artifact store and job dirs; a fresh temp dir when absent (removed on dispose). */
  baseDir?: string;
  /** Data dirs the file tools may read by absolute path (never write); given, they are also in `sandbox`. */
  dataDirs?: readonly string[];
  log?: Logger;
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

/** As the specialist's workspace: the largest file read as text, the most files a listing walks. */
const MAX_READ_BYTES = 1024 * 1024;
const MAX_LISTED = 10_000;
const SKIPPED_DIRS: ReadonlySet<string> = new Set([".git", "node_modules", "__pycache__", ".venv"]);

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

/** The port's file methods over the confined workspace, as the specialist's. */
function workspaceFiles(
  files: ConfinedFs,
  workspace: string,
): Pick<StepTools, "readFile" | "writeFile" | "readBytes" | "listFiles" | "findFiles"> {
  return {
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
  };
}

/** The port's artifact methods over a store directory (object names `<taskId>/<path>`). */
function artifactStore(files: ConfinedFs, store: string, taskId: string): Pick<StepTools, "saveArtifact" | "fetchArtifact"> {
  return {
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
  };
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
    ...workspaceFiles(files, workspace),
    async run(argv, runOpts) {
      return exec(argv, workspace, runOpts?.env, runOpts?.timeoutSec ?? 300, runOpts?.signal);
    },
    ...artifactStore(files, store, taskId),
    async runGpuJob(spec, jobOpts) {
      const jobId = `job-${jobs.length + 1}`;
      const place = {
        taskId,
        dir: join(jobsDir, jobId),
        store,
        log,
        workspace,
        worktreeFiles: async () => (await tools.findFiles(".")).files,
      };
      const { record, shipped } = await runLocalJob(place, jobId, spec, jobOpts?.signal);
      jobs.push(record);
      return shipped ? { jobId, result: record.result, shipped } : { jobId, result: record.result };
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
