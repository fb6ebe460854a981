import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, realpath, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import { ensureDemoRepo } from "./demo-repo.js";
import { SourceRepoError } from "./errors.js";
import { type GitDirs, gitOk, redactUrls, runGit, runGitDiscovering } from "./git-cli.js";
import { splitCredentials } from "./git-credentials.js";

/** Longest a clone or fetch of the team's repository may take (ms). */
const NETWORK_TIMEOUT_MS = 10 * 60_000;

/** The repository task worktrees are added from. */
export interface SourceRepo {
  /**
   * `local`: `MLLEAD_REPO` was a path, used as it is; `clone`: it was a URL,
   * cloned (bare) under the state dir; `demo`: no `MLLEAD_REPO`, the demo repository.
   */
  kind: "local" | "clone" | "demo";
  /** Where the repository is: its top level, or the bare repository (for people and paths; git is always given the dirs below). */
  dir: string;
  /** Its git common dir (absolute): objects, refs, config; every command on tasks names it. */
  gitCommonDir: string;
  /** The git dir `baseRef` is resolved in (a local path's own, which may be a linked worktree's; else the common dir). */
  gitDir: string;
  /** The ref a new task starts from: `HEAD` (local), `refs/remotes/origin/HEAD` (clone), `refs/heads/main` (demo). */
  baseRef: string;
  /** What a person would call it: the path, or the URL without credentials. */
  label: string;
  /** Problems that did not stop the open (a failed fetch: tasks start from the last fetched commit). */
  warnings: string[];
}

/** Where `openSourceRepo` finds the repository. */
export interface SourceRepoOptions {
  /** `MLLEAD_REPO`: a path to a git repository (used as is) or a clone URL (cloned once, fetched on later opens). */
  repo?: string | undefined;
  /** mllead's state directory (see `defaultStateDir`); clones live in `<stateDir>/repos/`, the demo in `<stateDir>/demo-repo`. */
  stateDir: string;
  /** The shipped `jobs/` directory the demo repository is made from. */
  demoSourceDir: string;
}

/**
 * mllead's state directory: `$XDG_STATE_HOME/mllead`, else `~/.local/state/mllead`.
 * The default `MLLEAD_WORKSPACE_DIR` is `<stateDir>/workspaces` (see `defaultWorkspaceDir`).
 */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_STATE_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg && isAbsolute(xdg)) return join(xdg, "mllead");
  return join(env.HOME || homedir(), ".local", "state", "mllead");
}

/** The default root of task worktrees: `<stateDir>/workspaces`. */
export function defaultWorkspaceDir(stateDir: string): string {
  return join(stateDir, "workspaces");
}

/**
 * True when `repo` is something to clone rather than a local path: a URL with
 * a scheme (`https://`, `ssh://`, `file://`) or git's scp-like `host:path`
 * form (a colon before any slash), as `git clone` itself decides.
 */
export function isCloneUrl(repo: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return true;
  const colon = repo.indexOf(":");
  const slash = repo.indexOf("/");
  return colon > 0 && (slash === -1 || colon < slash);
}

/** `<stateDir>/repos/<name>-<hash>` for a clone URL: the repository's name, made path safe, and a hash of the URL. */
export function cloneDirFor(stateDir: string, url: string): string {
  const hash = createHash("sha256").update(url).digest("hex").slice(0, 10);
  const tail = basename(url.replace(/[/\\]+$/, "").replace(/^.*[:/]/, "")).replace(/\.git$/, "");
  const name =
    tail
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[.-]+/, "")
      .slice(0, 40) || "repo";
  return join(stateDir, "repos", `${name}-${hash}`);
}

const fail = (what: string) => (message: string, args: string[], exitCode: number | null, stderr: string) =>
  new SourceRepoError(`${what}: ${message}`, args, exitCode, stderr);

/**
 * Opens a local repository as it is: its working tree and checked-out branch
 * are never touched. The one place git finds a repository from a directory:
 * the operator's path; every later command names the dirs found here.
 */
async function openLocal(path: string): Promise<SourceRepo> {
  const dir = resolve(path);
  const label = dir;
  let info: string[];
  try {
    const args = ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir", "--is-bare-repository"];
    info = (await runGitDiscovering(dir, args)).stdout.trim().split("\n");
  } catch (err) {
    throw new SourceRepoError(`MLLEAD_REPO '${label}' is not a git repository`, [], null, "", { cause: err });
  }
  const [gitDir = "", gitCommonDir = "", bare] = info;
  const top = bare === "true" ? dir : (await runGitDiscovering(dir, ["rev-parse", "--show-toplevel"])).stdout.trim();
  if (!(await gitOk({ gitDir }, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]))) {
    throw new SourceRepoError(`MLLEAD_REPO '${label}' has no commit on HEAD to start tasks from`);
  }
  // Real paths: git writes them into worktrees' `.git` files, and the guard compares with what it would write.
  return {
    kind: "local",
    dir: top,
    gitCommonDir: await realpath(gitCommonDir),
    gitDir: await realpath(gitDir),
    baseRef: "HEAD",
    label,
    warnings: [],
  };
}

/**
 * A bare repository with `origin` = `url` without its credentials, its
 * branches under `refs/remotes/origin/` and `origin/HEAD` set. Credentials in
 * `url` reach git only for the calls that talk to the remote.
 */
async function cloneInto(dir: string, url: string): Promise<void> {
  const what = fail(`cloning ${redactUrls(url)}`);
  const remote = splitCredentials(url);
  const repo: GitDirs = { gitDir: dir };
  const network = { credentials: remote.credentials };
  await runGit(repo, ["init", "--quiet", "--bare"], { fail: what });
  await runGit(repo, ["remote", "add", "origin", remote.url], { fail: what });
  await runGit(repo, ["fetch", "--quiet", "origin"], { fail: what, network, timeoutMs: NETWORK_TIMEOUT_MS });
  await runGit(repo, ["remote", "set-head", "origin", "--auto"], { fail: what, network, timeoutMs: NETWORK_TIMEOUT_MS });
}

/**
 * Clones `url` into `<stateDir>/repos/…` once (into a temporary directory
 * renamed into place, so two processes racing end with one clone), and
 * fetches it on later opens. Task branches are local branches of the clone;
 * a fetch only moves `refs/remotes/origin/*`.
 */
async function openClone(stateDir: string, url: string): Promise<SourceRepo> {
  const dir = cloneDirFor(stateDir, url);
  const label = redactUrls(url);
  const warnings: string[] = [];
  await mkdir(join(stateDir, "repos"), { recursive: true });
  // Only a complete clone is ever renamed into place, so an existing directory is one.
  if (!existsSync(join(dir, "HEAD"))) {
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await mkdir(tmp, { recursive: true });
    try {
      await cloneInto(tmp, url);
      await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
        // Another process renamed its clone into place first: use that one.
        if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } else {
    const remote = splitCredentials(url);
    try {
      // Rewritten on every open: a clone made when credentials were still stored in its config loses them.
      await runGit({ gitDir: dir }, ["config", "remote.origin.url", remote.url]);
      await runGit({ gitDir: dir }, ["fetch", "--quiet", "--prune", "origin"], {
        network: { credentials: remote.credentials },
        timeoutMs: NETWORK_TIMEOUT_MS,
      });
    } catch (err) {
      warnings.push(`could not fetch ${label}; tasks start from the last fetched commit (${(err as Error).message})`);
    }
  }
  const real = await realpath(dir);
  return { kind: "clone", dir, gitCommonDir: real, gitDir: real, baseRef: "refs/remotes/origin/HEAD", label, warnings };
}

/**
 * The repository task worktrees are added from. A local path is used as it is
 * (worktrees live outside it, under the workspace dir); a URL (including
 * `file://`) is cloned under `<stateDir>/repos/` and fetched on later opens;
 * no `repo` means the demo repository made from the shipped `jobs/`.
 */
export async function openSourceRepo(opts: SourceRepoOptions): Promise<SourceRepo> {
  const repo = opts.repo?.trim();
  if (!repo) {
    const dir = await ensureDemoRepo(opts.stateDir, opts.demoSourceDir);
    const gitCommonDir = join(await realpath(dir), ".git");
    const label = `demo repository ${dir}`;
    return { kind: "demo", dir, gitCommonDir, gitDir: gitCommonDir, baseRef: "refs/heads/main", label, warnings: [] };
  }
  return isCloneUrl(repo) ? openClone(opts.stateDir, repo) : openLocal(repo);
}
