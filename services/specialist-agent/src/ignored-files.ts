import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runGit } from "./git-cli.js";
import { bare, type GuardedWorktree, recordedHead } from "./worktree-guard.js";

/**
 * The worktree's paths that git ignores — untracked ones its ignore rules match (every `.gitignore` in the
 * tree, `info/exclude`, the repository's `core.excludesFile`) — as `git ls-files --others --ignored
 * --exclude-standard --directory` names them: relative, a wholly ignored directory once as `dir/`. Git runs
 * on the service's own git dirs (never one the worktree names) with an index made from the branch's recorded
 * head in a temporary file, so tracked files never count as ignored and the worktree's own index is not
 * consulted; git reads only ignore files of the worktree, and none through a symbolic link.
 */
export async function ignoredPaths(wt: GuardedWorktree): Promise<ReadonlySet<string>> {
  const head = await recordedHead(wt);
  const tmp = await mkdtemp(join(tmpdir(), "mllead-ignored-"));
  try {
    const index = { env: { GIT_INDEX_FILE: join(tmp, "index") } };
    await runGit(bare(wt), ["read-tree", head], index);
    const out = await runGit(
      { gitDir: wt.gitCommonDir, workTree: wt.root },
      ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
      index,
    );
    return new Set(out.stdout.split("\0").filter(Boolean));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
