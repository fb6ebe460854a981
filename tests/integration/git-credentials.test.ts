import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { commitStep, pushBranch } from "../../services/specialist-agent/src/task-branch.js";
import { openTaskWorktree } from "../../services/specialist-agent/src/task-worktree.js";
import { startGitHttpServer } from "../helpers/git-http-server.js";
import { filesContaining, git, tempDir } from "../helpers/git-repos.js";

const JOBS_DIR = fileURLToPath(new URL("../../jobs", import.meta.url));
/** A token with characters that must be percent-encoded in a URL. */
const TOKEN = "ghp_S3cret:tok/en+42";
const ENCODED = encodeURIComponent(TOKEN);

/** A bare repository `<dir>/served/team.git` with one commit on main, served over HTTP behind Basic auth. */
async function servedTeam(dir: string) {
  const work = join(dir, "team");
  await mkdir(work);
  await git(work, "init", "--quiet");
  await writeFile(join(work, "train.py"), "print('train')\n");
  await git(work, "add", "--all");
  await git(work, "commit", "--quiet", "-m", "Initial model");
  const served = join(dir, "served");
  await mkdir(served);
  await git(dir, "clone", "--quiet", "--bare", work, join(served, "team.git"));
  await git(dir, "init", "--quiet", "--bare", join(served, "pushed.git"));
  const server = await startGitHttpServer(served, "ada", TOKEN);
  const withCreds = (name: string, token = ENCODED) => `${server.url.replace("://", `://ada:${token}@`)}/${name}`;
  return { work, served, server, withCreds };
}

/** The error `p` rejects with (the test fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { stderr?: string; args?: string[] }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { stderr?: string; args?: string[] };
  }
  throw new Error("expected the call to fail");
}

/** No file under `dirs` holds the token, raw or URL-encoded. */
async function tokenFilesIn(...dirs: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const d of dirs) {
    hits.push(...(await filesContaining(d, TOKEN)), ...(await filesContaining(d, ENCODED)));
  }
  return hits;
}

describe("credentials in a clone URL reach git for the network call only", () => {
  it("clones and fetches with them, keeps them out of the clone's config and every file a step could read", async () => {
    await using dir = await tempDir();
    const team = await servedTeam(dir.path);
    await using _server = team.server;
    const stateDir = join(dir.path, "state");
    const opts = { repo: team.withCreds("team.git"), stateDir, demoSourceDir: JOBS_DIR };

    const source = await openSourceRepo(opts);
    expect(source.label).not.toContain(ENCODED);
    expect(await git(source.dir, "--git-dir", source.gitCommonDir, "config", "--get", "remote.origin.url")).toBe(
      `${team.server.url}/team.git`,
    );
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-1" });
    expect(wt.baseCommit).toBe(await git(team.work, "rev-parse", "main"));

    // A later open fetches with the same credentials: a new commit upstream is the next task's base.
    await writeFile(join(team.work, "README.md"), "# churn\n");
    await git(team.work, "add", "README.md");
    await git(team.work, "commit", "--quiet", "-m", "Readme");
    await git(team.work, "push", "--quiet", join(team.served, "team.git"), "main");
    const again = await openSourceRepo(opts);
    expect(again.warnings).toEqual([]);
    const next = await openTaskWorktree(again, { workspaceDir: join(dir.path, "ws"), taskId: "t-2" });
    expect(next.baseCommit).toBe(await git(team.work, "rev-parse", "main"));

    expect(team.server.refused).toBeGreaterThan(0);
    expect(await tokenFilesIn(stateDir, join(dir.path, "ws"))).toEqual([]);
  });

  it("says a wrong token failed without repeating the token", async () => {
    await using dir = await tempDir();
    const team = await servedTeam(dir.path);
    await using _server = team.server;
    const wrong = "ghp_Wr0ngT0ken";
    const err = await rejection(
      openSourceRepo({ repo: team.withCreds("team.git", wrong), stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR }),
    );
    expect(err).toMatchObject({ code: "source_repo_failed" });
    expect(`${err.message}\n${err.stderr}\n${err.args?.join(" ")}`).not.toContain(wrong);
  });

  it("pushes to a push remote with credentials, storing them nowhere", async () => {
    await using dir = await tempDir();
    const team = await servedTeam(dir.path);
    await using _server = team.server;
    const stateDir = join(dir.path, "state");
    const source = await openSourceRepo({ stateDir, demoSourceDir: JOBS_DIR });
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-1" });
    await writeFile(join(wt.root, "a.txt"), "a\n");
    const { commit } = await commitStep(wt, { taskId: "t-1", stepId: "s", role: "data-engineer", attempt: 1, title: "A" });

    const pushed = await pushBranch(wt, team.withCreds("pushed.git"));

    expect(pushed).toEqual({
      remote: `http://***@${team.server.url.slice(7)}/pushed.git`,
      ref: "refs/heads/mllead/t-1",
      sha: commit?.sha,
    });
    expect(await git(team.served, "--git-dir", join(team.served, "pushed.git"), "rev-parse", "refs/heads/mllead/t-1")).toBe(
      commit?.sha,
    );
    expect(await tokenFilesIn(stateDir, join(dir.path, "ws"))).toEqual([]);
    const failed = await rejection(pushBranch(wt, team.withCreds("pushed.git", "ghp_Wr0ngT0ken")));
    expect(failed).toMatchObject({ code: "git_push_failed" });
    expect(failed.message).not.toContain("ghp_Wr0ngT0ken");
  });
});
