import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REVIEW_CRITERIA, REVIEW_PITFALLS } from "@mllead/contracts";
import { type Conversation, type FakeReply, text, toolUse, turn } from "./fake-anthropic.js";

/**
 * Plays Claude for the whole team, the way the real model would drive the tools:
 * the tech lead's plan (structured output) and summary, and each specialist's
 * tool loop, deciding the next call from the last tool result. It writes real
 * Python that runs in the sandbox and on the GPU runner.
 */

const criteria = (...texts: string[]) => texts.map((t, i) => ({ id: `ac${i + 1}`, text: t }));

/** The plan Claude returns: data → train → analyse → review, with params and criteria ids. */
export const TEAM_PLAN = {
  summary: "Split the churn CSV, train a logistic-regression baseline on a GPU host, plot and report, then review.",
  scope: "multi-agent",
  risks: [{ risk: "Leakage between splits", mitigation: "Split by row before anything is fitted" }],
  steps: [
    {
      id: "data",
      role: "data-engineer",
      title: "Split the churn table",
      objective: "Split data/churn.csv into train and validation sets.",
      context: "The table is data/churn.csv in the team's repository.",
      requirements: ["Write pipeline/split.py", "Seed 7"],
      acceptanceCriteria: criteria("splits/train.csv and splits/val.csv exist", "the two splits add up to the table"),
      params: { dataset: "data/churn.csv", target: "churned", seed: 7 },
      nextHandoff: { to: "ml-engineer", reason: "to train on the splits" },
      dependsOn: [],
      changesCode: true,
      usesGpu: false,
    },
    {
      id: "train",
      role: "ml-engineer",
      title: "Train the baseline",
      objective: "Train a logistic regression on the splits as a GPU job.",
      context: "Splits in splits/.",
      requirements: ["Write training/train.py", "Use the params' epochs and learning rate"],
      acceptanceCriteria: criteria("the job succeeds", "val_auc is reported"),
      params: { model: "logreg", epochs: 30, learningRate: 0.5, seed: 7, metric: "val_auc", gpus: 1 },
      nextHandoff: { to: "analyst", reason: "to plot and report" },
      dependsOn: ["data"],
      changesCode: true,
      usesGpu: true,
    },
    {
      id: "analyze",
      role: "analyst",
      title: "Plot the loss and report",
      objective: "Plot the training loss and write a short report.",
      context: "The job's history is under runs/.",
      requirements: ["reports/loss.png", "reports/report.md"],
      acceptanceCriteria: criteria("reports/loss.png is a PNG plot of the loss", "reports/report.md states val_auc"),
      params: { metric: "val_auc" },
      nextHandoff: { to: "code-reviewer", reason: "to review every change" },
      dependsOn: ["train"],
      changesCode: true,
      usesGpu: false,
    },
    {
      id: "review",
      role: "code-reviewer",
      title: "Review all changes",
      objective: "Review the diff of the task.",
      context: "All steps changed code.",
      requirements: ["Check leakage and seeds"],
      acceptanceCriteria: [...REVIEW_CRITERIA],
      params: {},
      nextHandoff: { to: "tech-lead", reason: "to close the task" },
      dependsOn: ["data", "train", "analyze"],
      changesCode: false,
      usesGpu: false,
    },
  ],
};

const SPLIT_PY = `"""Split data/churn.csv into train and validation sets (seeded, by row)."""
import csv, os, random

def main() -> None:
    with open("data/churn.csv") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    random.Random(7).shuffle(body)
    cut = int(len(body) * 0.8)
    os.makedirs("splits", exist_ok=True)
    for name, part in (("train", body[:cut]), ("val", body[cut:])):
        with open(f"splits/{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([header, *part])
    print(f"rows={len(body)} train={cut} val={len(body) - cut}")

if __name__ == "__main__":
    main()
`;

const TRAIN_PY = `"""Logistic regression baseline on splits/*.csv (numpy), metrics into $MLLEAD_ARTIFACTS_DIR."""
import json, os, sys, time
import numpy as np

def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1]

def auc(y, s):
    order = np.argsort(s)
    ranks = np.empty(len(s)); ranks[order] = np.arange(1, len(s) + 1)
    pos = y == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))

def main(epochs: int = 30, lr: float = 0.5, pause: float = 0.0) -> None:
    out = os.environ.get("MLLEAD_ARTIFACTS_DIR", ".")
    xt, yt = load("splits/train.csv"); xv, yv = load("splits/val.csv")
    mu, sd = xt.mean(0), xt.std(0) + 1e-9
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    w, b, history = np.zeros(xt.shape[1]), 0.0, []
    for epoch in range(1, epochs + 1):
        p = 1 / (1 + np.exp(-(xt @ w + b)))
        loss = float(np.mean(np.logaddexp(0, xt @ w + b) - yt * (xt @ w + b)))
        w -= lr * xt.T @ (p - yt) / len(yt); b -= lr * float(np.mean(p - yt))
        history.append({"epoch": epoch, "loss": loss})
        print("::mllead-progress " + json.dumps({"step": epoch, "total": epochs, "metrics": {"loss": loss}}), flush=True)
        time.sleep(pause)
    metrics = {"val_auc": auc(yv, xv @ w + b), "final_loss": history[-1]["loss"], "epochs": epochs}
    json.dump(metrics, open(os.path.join(out, "metrics.json"), "w"))
    json.dump(history, open(os.path.join(out, "history.json"), "w"))
    print(json.dumps(metrics))

if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.0)
`;

const PLOT_PY = `"""Plot the loss curve as a PNG (no matplotlib needed) and write the report."""
import glob, json, struct, zlib, os

def png(path, width, height, pixels):
    raw = b"".join(b"\\x00" + bytes(row) for row in pixels)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

def main() -> None:
    history = json.load(open(sorted(glob.glob("runs/*/history.json"))[0]))
    metrics = json.load(open(sorted(glob.glob("runs/*/metrics.json"))[0]))
    losses = [h["loss"] for h in history]
    w, h = 120, 60
    img = [[255] * w for _ in range(h)]
    lo, hi = min(losses), max(losses)
    for i, l in enumerate(losses):
        x = int(i * (w - 1) / max(1, len(losses) - 1)); y = int((hi - l) / (hi - lo + 1e-12) * (h - 1))
        img[y][x] = 0
    os.makedirs("reports", exist_ok=True)
    png("reports/loss.png", w, h, img)
    with open("reports/report.md", "w") as f:
        f.write(f"# Baseline\\n\\nval_auc = {metrics['val_auc']:.3f} after {len(losses)} epochs; loss {losses[0]:.3f} -> {losses[-1]:.3f}.\\n")
    print(f"val_auc={metrics['val_auc']:.3f} points={len(losses)}")

if __name__ == "__main__":
    main()
`;

/** The role whose step this conversation is, from the first user message ("You are the <role> on task …"). */
function roleOf(conv: Conversation): string | undefined {
  const first = conv.messages[0];
  const content = typeof first?.content === "string" ? first.content : JSON.stringify(first?.content ?? "");
  return /You are the ([a-z-]+) on task/.exec(content)?.[1];
}

const lastResult = (conv: Conversation) => conv.toolResults.at(-1);
const calls = (conv: Conversation, name: string) => conv.toolCalls.filter((c) => c.name === name).length;

/** The leakage the reviewer finds with `reviewerFindsLeakage`. */
export const LEAK = {
  severity: "blocker",
  category: "data_leakage",
  file: "pipeline/split.py",
  line: 9,
  message: "The validation rows are scaled with statistics of the whole table; fit the scaler on the train split only.",
} as const;

/** One check per ML pitfall, `pass` unless given. */
function reviewChecks(status: Partial<Record<(typeof REVIEW_PITFALLS)[number], "fail" | "n/a">>) {
  return REVIEW_PITFALLS.map((pitfall) => ({
    pitfall,
    status: status[pitfall] ?? "pass",
    evidence: status[pitfall] === "fail" ? `${pitfall}: see the findings` : `${pitfall}: read the diff`,
  }));
}

/** Options that let a test change how the team behaves. */
export interface TeamOptions {
  /** The analyst answers its second criterion met=false (the step then fails and the tech lead re-plans). */
  analystFails?: boolean;
  /** Seconds the training job sleeps per epoch (to give a test time to kill the specialist). */
  trainPause?: number;
  /** The first review finds leakage owned by the data step (and leaves its audit criterion unmet); the re-review approves. */
  reviewerFindsLeakage?: boolean;
}

/** The scripted team: answers every request the services make. */
export function claudeTeam(opts: TeamOptions = {}): (conv: Conversation) => FakeReply {
  return (conv) => {
    const schema = JSON.stringify(conv.outputSchema ?? {});
    // A lesson from a finding: the team's Claude sees none worth keeping.
    if (schema.includes("one-off")) return { text: JSON.stringify({ lessons: [] }) };
    if (schema.includes("acceptanceCriteria")) return { text: JSON.stringify(TEAM_PLAN) };
    const role = roleOf(conv);
    if (!role) return turn(text("Claude's summary: the baseline is trained, plotted and reviewed on its own branch."));
    const last = lastResult(conv);
    if (last?.isError && last.name !== "FinishStep") return turn(text(`The ${last.name} call failed: ${last.text}`));
    switch (role) {
      case "data-engineer":
        if (calls(conv, "Glob") === 0) return turn(text("Looking for the table."), toolUse("Glob", { pattern: "**/*.csv" }));
        if (calls(conv, "Write") === 0) return turn(toolUse("Write", { file_path: "pipeline/split.py", content: SPLIT_PY }));
        if (calls(conv, "Bash") === 0)
          return turn(toolUse("Bash", { command: "python3 pipeline/split.py && wc -l splits/*.csv", description: "split" }));
        return turn(
          toolUse("FinishStep", {
            summary: `Split data/churn.csv: ${last?.text.split("\n")[0]}`,
            criteria: [
              {
                id: "ac1",
                met: /exit code 0/.test(last?.text ?? ""),
                evidence: last?.text.split("\n").slice(1, 3).join("; ") ?? "",
              },
              { id: "ac2", met: /rows=200 train=160 val=40/.test(last?.text ?? ""), evidence: last?.text.split("\n")[0] ?? "" },
            ],
            metrics: { train_rows: 160, val_rows: 40 },
          }),
        );
      case "ml-engineer": {
        if (calls(conv, "Write") === 0) return turn(toolUse("Write", { file_path: "training/train.py", content: TRAIN_PY }));
        if (calls(conv, "SubmitGpuJob") === 0) {
          return turn(
            toolUse("SubmitGpuJob", {
              command: ["python3", "training/train.py", "30", "0.5", String(opts.trainPause ?? 0)],
              files: ["training/train.py"],
              inputs: ["splits/train.csv", "splits/val.csv"],
              gpus: 1,
              timeout_sec: 300,
              description: "train the baseline",
            }),
          );
        }
        const auc = /val_auc=([\d.]+)/.exec(last?.text ?? "")?.[1];
        return turn(
          toolUse("FinishStep", {
            summary: auc ? `Trained the baseline: val_auc ${auc}` : `The training job did not succeed: ${last?.text.slice(-300)}`,
            criteria: [
              { id: "ac1", met: /succeeded/.test(last?.text ?? ""), evidence: last?.text.split("\n")[0] ?? "no job result" },
              { id: "ac2", met: auc !== undefined, evidence: auc ? `val_auc=${auc}` : "no val_auc in the job's metrics" },
            ],
            ...(auc ? { metrics: { val_auc: Number(auc) } } : {}),
          }),
        );
      }
      case "analyst":
        if (calls(conv, "Write") === 0) return turn(toolUse("Write", { file_path: "reports/plot.py", content: PLOT_PY }));
        if (calls(conv, "Bash") === 0)
          return turn(
            toolUse("Bash", {
              command: "python3 reports/plot.py && file reports/loss.png || head -c 8 reports/loss.png | od -c | head -1",
            }),
          );
        return turn(
          toolUse("FinishStep", {
            summary: `Plotted the loss and wrote the report (${last?.text.split("\n")[0]})`,
            criteria: [
              { id: "ac1", met: /exit code 0/.test(last?.text ?? ""), evidence: "reports/loss.png written by reports/plot.py" },
              opts.analystFails
                ? {
                    id: "ac2",
                    met: false,
                    evidence: "the report does not compare with last week's model: no such model in the repository",
                  }
                : { id: "ac2", met: true, evidence: last?.text.split("\n")[0] ?? "" },
            ],
            artifacts: ["reports/loss.png", "reports/report.md"],
          }),
        );
      case "code-reviewer": {
        if (calls(conv, "Bash") === 0)
          return turn(toolUse("Bash", { command: "git status --short && git log --oneline | head -5" }));
        if (calls(conv, "Grep") === 0)
          return turn(toolUse("Grep", { pattern: "Random\\(7\\)|seed", output_mode: "files_with_matches" }));
        const evidence = `git log: ${last?.text.split("\n")[0]}`;
        const rereview = JSON.stringify(conv.messages[0]?.content ?? "").includes("Your previous review's findings");
        if (opts.reviewerFindsLeakage && !rereview) {
          // It finds leakage: the audit of the data step's claim is unmet, and the finding goes to that step.
          return turn(
            toolUse("FinishStep", {
              summary: "The validation split is scaled with statistics of the whole table.",
              criteria: REVIEW_CRITERIA.map((c) =>
                c.id === "ac4"
                  ? { id: c.id, met: false, evidence: "data/ac2 claims clean splits, but split.py shuffles after scaling" }
                  : { id: c.id, met: true, evidence },
              ),
              verdict: {
                decision: "request_changes",
                summary: "Leakage in the split: fit on train only.",
                findings: [{ ...LEAK, ownerStepId: "data" }],
                checks: reviewChecks({ data_leakage: "fail" }),
              },
            }),
          );
        }
        return turn(
          toolUse("FinishStep", {
            summary: "Read the diff: seeded split before any fitting, stable loss, small files.",
            criteria: REVIEW_CRITERIA.map((c) => ({ id: c.id, met: true, evidence })),
            verdict: {
              decision: "approve",
              summary: "Claude read the diff: seeds fixed, no leakage.",
              findings: [],
              checks: reviewChecks({}),
            },
          }),
        );
      }
      default:
        return turn(text(`unknown role ${role}`));
    }
  };
}

/** A team repository the way a user has one: a git repo with a small churn CSV, and a bare remote to push to. */
export async function makeTeamRepo(): Promise<{ repo: string; remote: string; base: string }> {
  const dir = await mkdtemp(join(tmpdir(), "mllead-team-"));
  const repo = join(dir, "ml-repo");
  const remote = join(dir, "remote.git");
  await mkdir(join(repo, "data"), { recursive: true });
  const rows = ["tenure,charges,calls,churned"];
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let i = 0; i < 200; i++) {
    const tenure = Math.floor(rand() * 60);
    const charges = Math.round(20 + rand() * 80);
    const calls = Math.floor(rand() * 6);
    const churned = rand() < 1 / (1 + Math.exp(0.08 * tenure - 0.03 * charges - 0.5 * calls + 0.5)) ? 1 : 0;
    rows.push(`${tenure},${charges},${calls},${churned}`);
  }
  await writeFile(join(repo, "data", "churn.csv"), `${rows.join("\n")}\n`);
  await writeFile(join(repo, "README.md"), "# Churn models\n");
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Ada", "-c", "user.email=ada@example.com", ...args], { cwd })
      .toString()
      .trim();
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "churn table");
  execFileSync("git", ["init", "-q", "--bare", remote]);
  return { repo, remote, base: git(repo, "rev-parse", "HEAD") };
}
