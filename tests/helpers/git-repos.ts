import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs git as a person would in their own repository (their identity, no system or global config). */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: cwd, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const identity = ["-c", "user.name=Ada", "-c", "user.email=ada@team.example", "-c", "init.defaultBranch=main"];
  return (await run("git", [...identity, ...args], { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
}

/** A temporary directory removed when the test's `await using` scope ends. */
export async function tempDir(prefix = "mllead-git-"): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** The team's repository at `<dir>/team`: a commit on `main`, a feature branch checked out, an edit in progress. */
export async function teamRepo(dir: string): Promise<string> {
  const repo = join(dir, "team");
  await mkdir(repo);
  await git(repo, "init", "--quiet");
  await writeFile(join(repo, "train.py"), "print('train')\n");
  await writeFile(join(repo, ".gitignore"), "data/\n");
  await git(repo, "add", "--all");
  await git(repo, "commit", "--quiet", "-m", "Initial model");
  await git(repo, "checkout", "--quiet", "-b", "ada/experiment");
  await writeFile(join(repo, "train.py"), "print('half-done idea')\n");
  return repo;
}

/** Every ref of a repository and what it points at, HEAD's target included: `refname sha` lines. */
export async function refsOf(gitDir: string): Promise<string[]> {
  const refs = (await git(gitDir, "--git-dir", gitDir, "for-each-ref", "--format=%(refname) %(objectname)")).split("\n");
  const head = await git(gitDir, "--git-dir", gitDir, "symbolic-ref", "HEAD");
  return [...refs, `HEAD -> ${head}`].filter(Boolean).sort();
}

/** Every file under `dir` (recursively) whose bytes contain `needle`, as paths relative to `dir`. */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile() && (await readFile(join(dir, path))).includes(needle)) hits.push(path);
    }
  };
  await walk("");
  return hits;
}

/**
 * What a step can do inside its worktree to make git run its program: a git dir of its own
 * (at `<root>/<name>`) whose config defines a clean filter writing the environment to
 * `marker`, a `.gitattributes` naming that filter for every file, and the worktree's
 * `.git` pointed at that git dir (`file`) or replaced by it (`dir`).
 */
export async function plantFilterAttack(root: string, marker: string, how: "file" | "dir"): Promise<void> {
  const evil = how === "file" ? join(root, ".evil") : root;
  if (how === "dir") await rm(join(root, ".git"), { force: true });
  else await mkdir(evil);
  await git(evil, "init", "--quiet");
  const program = `sh -c 'env > "${marker}"; cat'`;
  await git(evil, "config", "filter.x.clean", program);
  await git(evil, "config", "filter.x.smudge", program);
  await git(evil, "config", "diff.x.textconv", program);
  await git(evil, "config", "core.fsmonitor", program);
  await writeFile(join(root, ".gitattributes"), "* filter=x diff=x\n");
  if (how === "file") await writeFile(join(root, ".git"), `gitdir: ${join(evil, ".git")}\n`);
}
