import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SourceRepoError } from "./errors.js";
import { runGit } from "./git-cli.js";

/**
 * Fixed dates of the demo's initial commit: the same shipped files give the
 * same commit id in every process, so two racing creators agree on the base.
 */
const DEMO_DATE = "2025-01-01T00:00:00Z";

const README = `# mllead demo repository

A small ML project made by @mllead from the job scripts it ships, used when no
\`MLLEAD_REPO\` points it at the team's own repository.

- \`jobs/prepare_data.py\` — builds, validates and splits a churn-like dataset (\`--out data\`).
- \`jobs/train.py\` — trains a numpy classifier on the splits (\`--data data\`).
- \`jobs/analyze.py\` — writes a Markdown report on a run or a dataset.
- \`jobs/gpu_probe.py\` — reports the GPUs a job sees.
- \`jobs/test_*.py\` — unit tests: \`cd jobs && python3 -m unittest\`.

Each task works on its own branch, \`mllead/<taskId>\`; every step is one commit.
Generated data and model files are ignored (see \`.gitignore\`).
`;

const GITIGNORE = `# Outputs of the jobs: regenerated, not reviewed.
data/
artifacts/
*.npz
*.npy
# Python caches and environments.
__pycache__/
*.pyc
.venv/
`;

/** Writes the demo's files into the empty directory `dir`: the shipped scripts under `jobs/`, a README and a .gitignore. */
async function writeDemoFiles(dir: string, sourceDir: string): Promise<void> {
  const entries = await readdir(sourceDir, { withFileTypes: true }).catch((err: unknown) => {
    throw new SourceRepoError(`the shipped jobs directory '${sourceDir}' cannot be read`, [], null, "", { cause: err });
  });
  const scripts = entries.filter((e) => e.isFile() && e.name.endsWith(".py")).map((e) => e.name);
  if (scripts.length === 0) throw new SourceRepoError(`the shipped jobs directory '${sourceDir}' holds no job scripts`);
  await mkdir(join(dir, "jobs"), { recursive: true });
  for (const name of scripts.sort()) await copyFile(join(sourceDir, name), join(dir, "jobs", name));
  await writeFile(join(dir, "README.md"), README);
  await writeFile(join(dir, ".gitignore"), GITIGNORE);
}

/**
 * Makes `<stateDir>/demo-repo` once: a git repository on branch `main` whose
 * one commit holds the shipped job scripts (from `sourceDir`). Built in a
 * temporary directory and renamed into place, so a crash leaves no half repo
 * and two processes racing end with the same one. Returns its path. Delete
 * the directory to rebuild it from newer shipped scripts.
 */
export async function ensureDemoRepo(stateDir: string, sourceDir: string): Promise<string> {
  const dir = join(stateDir, "demo-repo");
  if (existsSync(join(dir, ".git"))) return dir;
  await mkdir(stateDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(tmp);
  try {
    await writeDemoFiles(tmp, sourceDir);
    const dated = { env: { GIT_AUTHOR_DATE: DEMO_DATE, GIT_COMMITTER_DATE: DEMO_DATE } };
    const repo = { gitDir: join(tmp, ".git"), workTree: tmp };
    await runGit(repo, ["init", "--quiet", "--initial-branch=main"]);
    await runGit(repo, ["add", "--all"]);
    await runGit(repo, ["commit", "--quiet", "--no-verify", "-m", "Demo ML project: the shipped job scripts"], dated);
    await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
      // Another process put its (identical) demo repository in place first.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!existsSync(join(dir, ".git"))) throw new SourceRepoError(`'${dir}' exists but is not the demo git repository`);
  return dir;
}
