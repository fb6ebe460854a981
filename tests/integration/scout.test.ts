import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import {
  BUCKET_SPECS,
  BUCKETS,
  RunnerHeartbeat,
  renderScoutReport,
  SCOUT_TOKEN_BUDGET,
  ScoutQuery,
  ScoutReply,
  type ScoutReport,
  SUBJECTS,
  scoutTokens,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { serveScout } from "../../services/specialist-agent/src/scout.js";
import { openTaskWorktree } from "../../services/specialist-agent/src/task-worktree.js";
import { scoutContext } from "../../services/tech-lead/src/scout-context.js";
import { git, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";

const log = createLogger("test", "silent");

/**
 * A team's repository as one finds it: a long README, CLAUDE.md and AGENTS.md, code a few folders deep, a
 * folder of 300 generated files, a committed node_modules, commits over time; on disk besides, what
 * .gitignore keeps out of git (a checkpoint, a secrets folder) and an edit not yet committed.
 */
async function teamRepository(dir: string): Promise<string> {
  const repo = join(dir, "team");
  await mkdir(join(repo, "src", "churn", "models", "deep"), { recursive: true });
  await writeFile(join(repo, ".gitignore"), "*.ckpt\nsecrets/\n");
  await writeFile(
    join(repo, "README.md"),
    `# Churn\n\nPredict churn from the customers table.\n${"More detail. ".repeat(6000)}\n`,
  );
  await writeFile(join(repo, "CLAUDE.md"), "Use pandas; tests live in tests/.\n");
  await writeFile(join(repo, "AGENTS.md"), "Run `pytest -q` before you finish.\n");
  await writeFile(join(repo, "src", "churn", "train.py"), "print('train')\n");
  await writeFile(join(repo, "src", "churn", "models", "deep", "net.py"), "class Net: ...\n");
  await mkdir(join(repo, "generated"));
  for (let i = 0; i < 300; i++) await writeFile(join(repo, "generated", `f${i}.json`), "{}\n");
  await mkdir(join(repo, "node_modules", "left-pad"), { recursive: true });
  await writeFile(join(repo, "node_modules", "left-pad", "index.js"), "module.exports = 1;\n");
  await git(repo, "init", "--quiet");
  await git(repo, "add", "--all");
  await git(repo, "commit", "--quiet", "-m", "Initial model");
  for (let i = 1; i <= 12; i++) {
    await writeFile(join(repo, "src", "churn", "train.py"), `print('train v${i}')\n`);
    await git(repo, "commit", "--quiet", "-am", `Tune the model, take ${i}`);
  }
  // Ignored by .gitignore and never committed; an edit in progress.
  await writeFile(join(repo, "model.ckpt"), "weights");
  await mkdir(join(repo, "secrets"));
  await writeFile(join(repo, "secrets", "token.txt"), "sk-secret");
  await writeFile(join(repo, "README.md"), "# Uncommitted rewrite\n");
  return repo;
}

/** A data folder: a CSV of 2,000 rows, a parquet file, a nested folder, a hidden file and a link out. */
async function dataFolder(dir: string): Promise<string> {
  const data = join(dir, "data");
  await mkdir(join(data, "raw", "2026"), { recursive: true });
  const rows = Array.from({ length: 2000 }, (_, i) => `${i},${i % 48},${(i * 7) % 100}.5,${i % 5 === 0 ? 1 : 0}`);
  await writeFile(join(data, "customers.csv"), `customer_id,tenure_months,monthly_charges,churned\n${rows.join("\n")}\n`);
  await writeFile(join(data, "events.parquet"), Buffer.alloc(4096, 1));
  await writeFile(join(data, "raw", "2026", "jan.tsv"), "day\tsignups\n1\t30\n");
  await writeFile(join(data, ".cache"), "x");
  await symlink("/etc", join(data, "etc-link"));
  return data;
}

function paths(report: ScoutReport): string[] {
  return report.tree.entries.map((e) => e.path);
}

describe("the scout: the team's repository before planning, read only, within a budget", () => {
  it("reports the base commit's tree, docs and commits, the data folders, packages and GPUs, never a worktree", async () => {
    await using dir = await tempDir();
    await using nats = await startNatsServer();
    const repo = await teamRepository(dir.path);
    const data = await dataFolder(dir.path);
    const source = await openSourceRepo({ repo, stateDir: join(dir.path, "state"), demoSourceDir: dir.path });
    // A task's worktree where a step wrote and committed files, and pointed its `.git` somewhere else.
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-1" });
    await writeFile(join(wt.root, "STEP_WROTE_THIS.md"), "# from a step\n");
    await writeFile(join(wt.root, "README.md"), "# Rewritten by a step\n");
    await git(wt.root, "add", "--all");
    await git(wt.root, "commit", "--quiet", "-m", "step work");
    await writeFile(join(wt.root, ".git"), `gitdir: ${join(dir.path, "elsewhere")}\n`);

    const specialist = await Bus.connect({ url: nats.url, name: "specialist", log });
    const lead = await Bus.connect({ url: nats.url, name: "tech-lead", log });
    try {
      await specialist.ensureBucket(BUCKET_SPECS.runners);
      const beat: RunnerHeartbeat = {
        runnerId: "r1",
        host: "gpu-host-1",
        gpus: [
          { index: 0, uuid: "GPU-1", name: "NVIDIA H100 80GB HBM3", memoryTotalMiB: 81559, memoryUsedMiB: 0, utilizationPct: 0 },
        ],
        cpuSlots: 2,
        runningJobs: [],
        at: new Date().toISOString(),
      };
      await (await specialist.kv(BUCKETS.runners, RunnerHeartbeat)).put("r1", beat);
      await serveScout(specialist, {
        source: async () => source,
        dataDirs: [data, join(dir.path, "missing")],
        bus: specialist,
        log,
      });

      const reply = await lead.request(SUBJECTS.scoutQuery, ScoutQuery, ScoutReply, { v: 1, taskId: "t-1" }, 30_000);
      if (!reply.ok) throw new Error(`the scout failed: ${reply.error.message}`);
      const r = reply.report;
      const text = renderScoutReport(r);

      // The base commit (the checkout's HEAD), not the worktree, its branch or the uncommitted edit.
      expect(r.repo.commit).toBe(await git(repo, "rev-parse", "HEAD"));
      expect(text).not.toContain("STEP_WROTE_THIS");
      expect(text).not.toContain("Rewritten by a step");
      expect(text).not.toContain("Uncommitted rewrite");
      expect(r.docs.map((d) => d.path)).toEqual(["README.md", "CLAUDE.md", "AGENTS.md"]);
      expect(r.docs[0]?.head).toMatch(/^# Churn\n\nPredict churn from the customers table\./);
      expect(r.docs[0]?.truncated).toBe(true);
      expect(r.docs[2]?.head).toContain("pytest -q");
      // What .gitignore keeps out of git, and tool folders, are not in the tree.
      expect(text).not.toMatch(/model\.ckpt|secrets|sk-secret|node_modules|left-pad/);
      expect(paths(r)).toEqual(
        expect.arrayContaining([".gitignore", "README.md", "src", "src/churn", "src/churn/train.py", "generated"]),
      );
      // The 300 generated files are one line; three levels down a folder is summarised.
      expect(r.tree.entries.find((e) => e.path === "generated")).toMatchObject({ kind: "dir", files: 300 });
      expect(paths(r).some((p) => p.startsWith("generated/"))).toBe(false);
      expect(r.tree.entries.find((e) => e.path === "src/churn/models")).toMatchObject({ kind: "dir", files: 1 });
      expect(paths(r)).not.toContain("src/churn/models/deep/net.py");
      expect(r.tree.totalFiles).toBe(306);
      expect(r.commits).toHaveLength(10);
      expect(r.commits[0]?.subject).toBe("Tune the model, take 12");
      // The data folder: files and sizes, the head of the text tables, no hidden file, no link followed.
      const folder = r.dataDirs[0];
      expect(folder?.files.map((f) => f.path)).toEqual(["customers.csv", "events.parquet", "raw/2026/jan.tsv"]);
      expect(folder?.files[0]?.head).toEqual([
        "customer_id,tenure_months,monthly_charges,churned",
        "0,0,0.5,1",
        "1,1,7.5,0",
        "2,2,14.5,0",
        "3,3,21.5,0",
      ]);
      expect(folder?.files[0]?.bytes).toBeGreaterThan(25_000);
      expect(folder?.files[1]?.head).toBeUndefined();
      expect(r.dataDirs[1]).toMatchObject({ missing: true });
      expect(text).not.toMatch(/passwd|\.cache/);
      // The system python's ML packages (numpy at least), and the runner's GPU.
      expect(r.python.packages.map((p) => p.name.toLowerCase())).toContain("numpy");
      expect(text).toContain("gpu-host-1: NVIDIA H100 80GB HBM3 80 GiB; 2 CPU job slots");
      // Within the budget, which the long README would break without the cut.
      expect(scoutTokens(r)).toBeLessThanOrEqual(SCOUT_TOKEN_BUDGET);
    } finally {
      await specialist.close();
      await lead.close();
    }
  });

  it("cuts the report to a smaller budget and says so; without a specialist the tech lead plans on with the reason", async () => {
    await using dir = await tempDir();
    await using nats = await startNatsServer();
    const repo = await teamRepository(dir.path);
    const data = await dataFolder(dir.path);
    // Forty more tables: together with their heads they would not fit a small budget.
    for (let i = 0; i < 40; i++) await writeFile(join(data, `daily_${i}.csv`), "day,signups,churned\n1,30,2\n2,31,4\n");
    const source = await openSourceRepo({ repo, stateDir: join(dir.path, "state"), demoSourceDir: dir.path });
    const specialist = await Bus.connect({ url: nats.url, name: "specialist", log });
    const lead = await Bus.connect({ url: nats.url, name: "tech-lead", log });
    try {
      expect(await scoutContext(lead, "t-2", 5000, log)).toEqual({ missing: "no specialist-agent answered the scout" });
      await serveScout(specialist, { source: async () => source, dataDirs: [data], log });
      const reply = await lead.request(
        SUBJECTS.scoutQuery,
        ScoutQuery,
        ScoutReply,
        { v: 1, taskId: "t-2", budgetTokens: 500 },
        30_000,
      );
      if (!reply.ok) throw new Error(reply.error.message);
      expect(scoutTokens(reply.report)).toBeLessThanOrEqual(500);
      expect(reply.report.notes.join("\n")).toMatch(/cut to fit the planner's budget of about 500 tokens/);
      expect(renderScoutReport(reply.report)).toContain("Repository:");
      const ctx = await scoutContext(lead, "t-2", 30_000, log);
      expect("report" in ctx && ctx.report.repo.commit).toBe(await git(repo, "rev-parse", "HEAD"));
    } finally {
      await specialist.close();
      await lead.close();
    }
  });
});
