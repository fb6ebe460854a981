import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { READ_MAX_CHARS } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import { type TaskEvent, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { claudeTeam, LEAK, makeTeamRepo, TEAM_PLAN } from "../helpers/claude-team.js";
import {
  type Conversation,
  type FakeReply,
  type RecordedRequest,
  startFakeAnthropic,
  text,
  toolUse,
  turn,
} from "../helpers/fake-anthropic.js";
import { tempDir } from "../helpers/git-repos.js";
import { startStack } from "../helpers/stack.js";
import { makeTeamVenv, PROBE } from "../helpers/team-venv.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

// Issue 11's "Done when": Claude specialists on a team's ML repository — a multi-MB table in a data folder, the
// team's venv, an ambiguous request, one very long turn, a 10-turn loop read from the cache, and a reviewer that
// finds leakage — through the four services as processes, a real nats-server and the Slack sandbox.

const log = createLogger("test", "silent");

/** How long the data engineer's `Write` of the split takes to stream: longer than the client's 120 s timeout. */
const SLOW_TURN_MS = 150_000;

/** The question Claude asks about "improve the model". */
const QUESTION = {
  id: "goal",
  text: "Which model should improve, and by which metric?",
  choices: ["the churn model, by val AUC", "the churn model, by recall"],
};

/** A table the way a team keeps one next to its repository: ~5.8 MB of customer events, never in git. */
async function writeEventsTable(file: string): Promise<number> {
  const rows = ["customer_id,day,tenure_months,monthly_charges,support_calls,plan,region,churned"];
  for (let i = 1; i <= 140_000; i++) {
    rows.push(
      `${100_000 + i},2024-${String(1 + (i % 12)).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")},${i % 72},${(20 + (i % 8000) / 100).toFixed(2)},${i % 7},${["basic", "plus", "pro"][i % 3]},${["north", "south", "east", "west"][i % 4]},${i % 5 === 0 ? 1 : 0}`,
    );
  }
  const csv = `${rows.join("\n")}\n`;
  await writeFile(file, csv);
  return csv.length;
}

const SPLIT_PY = `"""Split data/churn.csv into train and validation sets (seeded, by row, before anything is fitted)."""
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

/** The fix: the same split, and a note where the scaler's statistics must come from. */
const SPLIT_FIXED_PY = SPLIT_PY.replace(
  "    cut = int(len(body) * 0.8)\n",
  "    cut = int(len(body) * 0.8)\n    # Scaling statistics are fitted on the train split only (training/train.py), never on the whole table.\n",
);

const firstUserText = (conv: { messages: { content: unknown }[] }) => JSON.stringify(conv.messages[0]?.content ?? "");
const isFixAttempt = (conv: { messages: { content: unknown }[] }) =>
  firstUserText(conv).includes("findings this attempt must fix");
const calls = (conv: Conversation, name: string) => conv.toolCalls.filter((c) => c.name === name).length;

/** What the data engineer's scripted loop saw, for the assertions. */
interface Seen {
  /** The answer of `Read` on the data folder's table, without offset. */
  csvRead?: string;
  /** Where that answer said to read on. */
  readOnAt?: number;
  /** The answer of the `Read` with that offset. */
  offsetRead?: string;
  /** The answer of the Bash that imported the venv's probe package. */
  probe?: string;
  /** How often the fake was asked for the slow turn (1: it streamed to its end, no retry). */
  slowAsked: number;
  /** The last message the slow turn's request sent (the probe's tool result, with its unique tool_use id). */
  slowAfter?: string;
}

/**
 * The data engineer's first attempt, one tool call a turn, as Claude works an unknown repository: 10 requests.
 * The `Write` turn takes SLOW_TURN_MS to stream.
 */
function dataEngineer(conv: Conversation, dataDir: string, seen: Seen): FakeReply {
  const table = join(dataDir, "events.csv");
  const last = conv.toolResults.at(-1);
  if (isFixAttempt(conv)) {
    // The fix round: read the split, write it again with the finding addressed, run it, finish.
    if (calls(conv, "Read") === 0)
      return turn(text("Reading the finding's file."), toolUse("Read", { file_path: "pipeline/split.py" }));
    if (calls(conv, "Write") === 0) return turn(toolUse("Write", { file_path: "pipeline/split.py", content: SPLIT_FIXED_PY }));
    if (calls(conv, "Bash") === 0) return turn(toolUse("Bash", { command: "python pipeline/split.py" }));
    return turn(
      toolUse("FinishStep", {
        summary: `Scaling is fitted on the train split only: ${last?.text.split("\n")[0]}`,
        criteria: [
          { id: "ac1", met: /exit code 0/.test(last?.text ?? ""), evidence: last?.text.split("\n").slice(0, 2).join("; ") ?? "" },
          { id: "ac2", met: /rows=200 train=160 val=40/.test(last?.text ?? ""), evidence: last?.text.split("\n")[0] ?? "" },
        ],
      }),
    );
  }
  switch (conv.toolCalls.length) {
    case 0:
      return turn(text("Looking at the repository's tables first."), toolUse("Glob", { pattern: "**/*.csv" }));
    case 1:
      return turn(text("And the team's data folder."), toolUse("Glob", { pattern: "*.csv", path: dataDir }));
    case 2:
      return turn(toolUse("Read", { file_path: table }));
    case 3: {
      seen.csvRead = last?.text ?? "";
      seen.readOnAt = Number(/use offset (\d+) to read on\)$/.exec(seen.csvRead)?.[1]);
      return turn(toolUse("Read", { file_path: table, offset: seen.readOnAt, limit: 5 }));
    }
    case 4:
      seen.offsetRead = last?.text ?? "";
      return turn(
        toolUse("Bash", {
          command: `python -c 'import ${PROBE.module}, sys; print("${PROBE.module}", ${PROBE.module}.VERSION, sys.prefix)'`,
          description: "the team's environment",
        }),
      );
    case 5:
      seen.probe = last?.text ?? "";
      seen.slowAsked += 1;
      seen.slowAfter = JSON.stringify(conv.body.messages.at(-1));
      return { ...turn(toolUse("Write", { file_path: "pipeline/split.py", content: SPLIT_PY })), durationMs: SLOW_TURN_MS };
    case 6:
      return turn(toolUse("Bash", { command: "python pipeline/split.py && wc -l splits/*.csv", description: "split" }));
    case 7:
      return turn(toolUse("Grep", { pattern: "Random\\(7\\)", output_mode: "content", "-n": true }));
    case 8:
      return turn(toolUse("Read", { file_path: "splits/val.csv", limit: 3 }));
    default: {
      // The split's own count, from the Bash that ran it.
      const bash = JSON.stringify(conv.messages).match(/rows=\d+ train=\d+ val=\d+/)?.[0] ?? "";
      return turn(
        toolUse("FinishStep", {
          summary: `Split data/churn.csv (${bash}); the 5 MB events table in the data folder was read in pages.`,
          criteria: [
            { id: "ac1", met: true, evidence: "splits/train.csv and splits/val.csv written (wc -l: 161 + 41 lines)" },
            { id: "ac2", met: bash === "rows=200 train=160 val=40", evidence: bash },
          ],
          metrics: { train_rows: 160, val_rows: 40 },
        }),
      );
    }
  }
}

/** The team's Claude: the planner asks first, the data engineer works as above, the rest as in claude-team. */
function script(dataDir: string, seen: Seen) {
  const team = claudeTeam({ reviewerFindsLeakage: true });
  return (conv: Conversation): FakeReply => {
    const schema = JSON.stringify(conv.outputSchema ?? {});
    if (schema.includes("acceptanceCriteria") && !schema.includes("one-off")) {
      const answered = JSON.stringify(conv.messages).includes("Answers to the plan's questions");
      const plan = {
        ...TEAM_PLAN,
        track: "experiment",
        assumptions: ["The churn label is the last column of data/churn.csv."],
        ...(answered ? {} : { questions: [QUESTION] }),
      };
      return { text: JSON.stringify(plan) };
    }
    if (/You are the data-engineer on task/.test(firstUserText(conv))) return dataEngineer(conv, dataDir, seen);
    return team(conv);
  };
}

/** Who a request works for: a specialist's step (and whether it is a fix round) or the tech lead. */
interface Owner {
  role: string;
  fix: boolean;
}

/**
 * Each request's owner, in arrival order. A step's loop runs on a server-held thread: its first request carries
 * the step prompt ("You are the <role> on task …"), and each later one only the new messages, so it belongs to
 * the owner of the reply it continues.
 */
function owners(requests: readonly RecordedRequest[]): Map<RecordedRequest, Owner> {
  const byReply = new Map<string, Owner>();
  const out = new Map<RecordedRequest, Owner>();
  for (const r of requests) {
    const first = firstUserText(r.body);
    const owner =
      r.thread?.type === "continue"
        ? (byReply.get(r.thread.previous_message_id) ?? { role: "?", fix: false })
        : { role: /You are the ([a-z-]+) on task/.exec(first)?.[1] ?? "tech-lead", fix: isFixAttempt(r.body) };
    out.set(r, owner);
    if (r.reply) byReply.set(r.reply.id, owner);
  }
  return out;
}

/** All input tokens of a reply: uncached, read from the cache, written to it. */
const inputOf = (r: RecordedRequest) => {
  const u = r.reply?.usage;
  return (u?.input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0);
};

/** Per role: requests, tool calls, tokens, and the share of input tokens read from the cache (%). */
function perRole(requests: readonly RecordedRequest[]) {
  const owner = owners(requests);
  const out: Record<
    string,
    { requests: number; tools: Record<string, number>; input: number; cacheRead: number; cachedShare: number }
  > = {};
  for (const r of requests) {
    if (!r.reply) continue;
    const role = owner.get(r)?.role ?? "?";
    const row = out[role] ?? { requests: 0, tools: {}, input: 0, cacheRead: 0, cachedShare: 0 };
    out[role] = row;
    row.requests += 1;
    for (const b of r.reply.content) if (b.type === "tool_use") row.tools[b.name] = (row.tools[b.name] ?? 0) + 1;
    row.input += inputOf(r);
    row.cacheRead += r.reply.usage.cache_read_input_tokens;
    row.cachedShare = Math.round((100 * row.cacheRead) / Math.max(1, row.input));
  }
  return out;
}

const stepEvent = (events: TaskEvent[], type: TaskEvent["type"], stepId: string) =>
  events.filter((e) => e.type === type && "stepId" in e && e.stepId === stepId);

describe("@mllead with Claude on a team's ML repository (issue 11: context, environment, tools, long turns, cache, review gate)", () => {
  it("asks before planning on a guess, reads a 5 MB table in pages, survives a 150 s turn, reads each loop from the cache, and fixes what the review finds", async () => {
    const started = Date.now();
    const repo = await makeTeamRepo();
    await using _repoDir = { [Symbol.asyncDispose]: () => rm(dirname(repo.repo), { recursive: true, force: true }) };
    await using outside = await tempDir("mllead-ml-repo-");
    const dataDir = join(outside.path, "team-data");
    await mkdir(dataDir);
    const tableBytes = await writeEventsTable(join(dataDir, "events.csv"));
    expect(tableBytes).toBeGreaterThan(5 * 1024 * 1024);
    const venv = await makeTeamVenv(join(outside.path, "venvs", "churn"));
    const seen: Seen = { slowAsked: 0 };
    await using api = await startFakeAnthropic(script(dataDir, seen));
    await using stack = await startStack({
      MLLEAD_BRAIN: "anthropic",
      ANTHROPIC_API_KEY: api.apiKey,
      ANTHROPIC_BASE_URL: api.url,
      MLLEAD_REPO: repo.repo,
      MLLEAD_PUSH_REMOTE: repo.remote,
      MLLEAD_DATA_DIRS: dataDir,
      MLLEAD_PYTHON_ENV: venv,
    });
    const observer = await Bus.connect({ url: stack.nats.url, name: "observer", log });
    await using _bus = { [Symbol.asyncDispose]: () => observer.close() };
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const sent = await sandbox.mention("improve the model");
    const taskId = taskIdFor(channel, sent.ts, sandbox.bot.teamId);
    const events = await collectEvents(observer, taskId);
    const thread = () => botMessages(sandbox.thread(channel, sent.ts));
    const plans = () => thread().filter((m) => kindOf(m) === "task.planned");
    const transcript = () =>
      thread()
        .map((m) => `${kindOf(m).padEnd(22)} ${m.text.replace(/\s+/g, " ").slice(0, 150)}`)
        .join("\n");

    // 1. The ambiguous request: the plan asks, with a button per choice, and cannot be approved yet.
    await waitFor(() => plans().length === 1, 60_000, "the first plan");
    const first = plans()[0] as ReturnType<typeof plans>[number];
    expect(visibleText(first)).toContain(QUESTION.text);
    expect(visibleText(first)).toContain("mllead_answer_0");
    // The planner was shown the repository and the data folder, as the scout read them.
    const planAsk = JSON.stringify(api.requests[0]?.body.messages);
    expect(planAsk).toContain("The team's repository, as the scout read it");
    expect(planAsk).toContain("events.csv");
    expect(planAsk).toContain("customer_id,day,tenure_months");
    // …and the team's environment (the scout lists its key ML packages; the probe is none of them).
    expect(planAsk).toContain(`### Python environment: ${venv}`);
    await sandbox.click(first.ts, "mllead_approve");
    await waitFor(
      () => sandbox.ephemerals(channel).some((e) => /approval was not applied.*Which model should improve/s.test(e.text)),
      20_000,
      "the private refusal",
    );
    expect(events.some((e) => e.type === "task.approved")).toBe(false);
    // Answered by a button: the revision asks nothing and is approved.
    await sandbox.click(first.ts, "mllead_answer_0");
    await waitFor(() => plans().length === 2, 60_000, "the revised plan");
    const second = plans()[1] as ReturnType<typeof plans>[number];
    expect(visibleText(second)).toMatch(/revision 2/i);
    expect(visibleText(second)).not.toContain("mllead_answer_");
    expect(visibleText(second)).toContain(`${QUESTION.text} → ${QUESTION.choices[0]}`);
    expect(JSON.stringify(api.requests.at(-1)?.body.messages)).toContain(`${QUESTION.text} → ${QUESTION.choices[0]}`);
    await sandbox.click(second.ts, "mllead_approve");

    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 360_000, "the summary").catch((err) => {
      throw new Error(
        `${err.message}\n--- thread ---\n${transcript()}\n--- specialist ---\n${stack.logs("specialist-agent").slice(-30).join("\n")}`,
      );
    });
    expect(api.scriptErrors).toEqual([]);

    // 2. Read of the 5 MB table: cut at Read's cap with the offset to read on; every request stays far below the window.
    expect(seen.csvRead?.length).toBeLessThanOrEqual(READ_MAX_CHARS + 500);
    expect(seen.csvRead).toContain("customer_id,day,tenure_months");
    expect(seen.csvRead).toMatch(/use offset \d+ to read on\)$/);
    expect(seen.offsetRead).toMatch(new RegExp(`^\\s*${seen.readOnAt}\\t`));
    const largest = Math.max(...api.requests.map(inputOf));
    expect(largest).toBeGreaterThan(20_000); // the page of the table was in the conversation
    expect(largest).toBeLessThan(60_000);

    // 3. The team's venv: the data engineer's Bash imported the package only it has.
    expect(seen.probe).toContain(`${PROBE.module} ${PROBE.version} ${venv}`);
    // What the data engineer was told up front: the plan around its step, its data folder, its Python and its limits.
    const stepAsk = firstUserText(
      api.requests.find((r) => /You are the data-engineer on task/.test(firstUserText(r.body)))?.body ?? { messages: [] },
    );
    for (const fact of [
      "## The plan this step belongs to",
      "Track: an experiment",
      "The churn label is the last column of data/churn.csv.",
      "Leakage between splits → Split by row before anything is fitted",
      `The team's data folders (read-only): ${dataDir}`,
      `Run Python as \`python\` (${venv}/bin/python`,
      `${PROBE.module} ${PROBE.version}`,
      "Commands have no network",
      "at most 60 model requests",
    ]) {
      expect(stepAsk).toContain(JSON.stringify(fact).slice(1, -1));
    }

    // 4. The 150 s turn streamed to its end: asked once, one request, no retry or timeout in the specialist's log.
    expect(seen.slowAsked).toBe(1);
    const slow = api.requests.filter((r) => JSON.stringify(r.body.messages.at(-1)) === seen.slowAfter);
    expect(slow.map((r) => [r.stream, r.status, r.reply?.content.map((b) => (b.type === "tool_use" ? b.name : b.type))])).toEqual(
      [[true, 200, ["Write"]]],
    );
    // The specialist's log: no retry or timeout said, no command timed out, and the data step's work delivered once.
    const specialistLog = stack
      .logs("specialist-agent")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg?: string; err?: unknown; timedOut?: boolean; stepId?: string; delivery?: number });
    const logged = (l: (typeof specialistLog)[number]) => `${l.msg ?? ""} ${JSON.stringify(l.err ?? "")}`;
    expect(specialistLog.filter((l) => /retr(y|ie)|time ?out|timed out/i.test(logged(l))).map(logged)).toEqual([]);
    expect(specialistLog.some((l) => l.timedOut === true)).toBe(false);
    expect(new Set(specialistLog.filter((l) => l.stepId === "data" && l.delivery !== undefined).map((l) => l.delivery))).toEqual(
      new Set([1]),
    );
    const dataStarted = stepEvent(events, "step.started", "data")[0];
    const dataDone = stepEvent(events, "step.completed", "data")[0];
    expect(Date.parse(dataDone?.at ?? "") - Date.parse(dataStarted?.at ?? "")).toBeGreaterThanOrEqual(SLOW_TURN_MS);

    // 5. The cache: the data engineer's 10-turn loop reads ≥ 70 % of its input tokens from the cache, each turn
    // from the second on reading everything the turn before sent.
    const owner = owners(api.requests);
    const loop = api.requests.filter((r) => r.reply && owner.get(r)?.role === "data-engineer" && !owner.get(r)?.fix);
    expect(loop).toHaveLength(10);
    loop.slice(1).forEach((r, i) => {
      expect(r.reply?.usage.cache_read_input_tokens, `data-engineer turn ${i + 2}`).toBeGreaterThanOrEqual(
        inputOf(loop[i] as RecordedRequest),
      );
    });
    const loopShare =
      loop.reduce((n, r) => n + (r.reply?.usage.cache_read_input_tokens ?? 0), 0) / loop.reduce((n, r) => n + inputOf(r), 0);
    const table = perRole(api.requests);
    console.log(
      `claude-ml-repo e2e, per role (requests, tool calls, input tokens, cached share %):\n${Object.entries(table)
        .map(
          ([role, r]) =>
            `  ${role.padEnd(14)} ${String(r.requests).padStart(3)} requests  ${String(r.cachedShare).padStart(3)} % cached  ${r.input} input tokens  ${JSON.stringify(r.tools)}`,
        )
        .join(
          "\n",
        )}\n  data-engineer's 10-turn loop: ${Math.round(100 * loopShare)} % cached; largest request ${largest} input tokens\n` +
        `totals: ${JSON.stringify(api.usage)}`,
    );
    expect(loopShare).toBeGreaterThanOrEqual(0.7);

    // 6. The review found leakage: a fix round of the data step with the finding, a re-review that approves; no re-plan.
    expect(events.some((e) => e.type === "task.replanning")).toBe(false);
    expect(plans()).toHaveLength(2);
    const reviews = stepEvent(events, "step.completed", "review");
    expect(reviews.map((e) => e.type === "step.completed" && e.result.verdict?.decision)).toEqual(["request_changes", "approve"]);
    expect(stepEvent(events, "step.started", "data").map((e) => ("attempt" in e ? e.attempt : 0))).toEqual([1, 2]);
    const fixAsk = api.requests
      .map((r) => firstUserText(r.body))
      .find((m) => m.includes("You are the data-engineer") && isFixAttempt({ messages: [{ content: m }] }));
    expect(fixAsk).toContain(LEAK.message);
    expect(events.filter((e) => e.type === "task.completed")).toHaveLength(1);
    expect(events.some((e) => e.type === "task.failed" || e.type === "step.failed")).toBe(false);

    // 7. The thread: the question, the checks, the fix round and the summary; printed for the closing note.
    const said = thread().map(visibleText).join("\n");
    expect(said).toContain(QUESTION.text);
    expect(said).toContain("Checks, one per ML pitfall");
    expect(said).toContain(":x: data leakage (fail)");
    expect(said).toMatch(
      /Fix round: \d findings? from the code review to address\. `data-engineer` started \*Split the churn table\* \(attempt 2\)/,
    );
    expect(said).toMatch(/Re-review after the fix round: checks the \d findings?\. `code-reviewer` started/);
    expect(said).toContain("Claude's summary");
    console.log(`the thread of "improve the model" (${Math.round((Date.now() - started) / 1000)} s):\n${transcript()}`);
    expect(JSON.stringify(thread())).not.toContain(api.apiKey);
    // Nothing went wrong on the way that a service had to log as an error.
    for (const name of ["tech-lead", "specialist-agent", "slack-gateway", "gpu-runner"] as const) {
      expect(
        stack.logs(name).filter((l) => /"level":(5|6)\d/.test(l)),
        `${name}'s errors`,
      ).toEqual([]);
    }
  }, 480_000);
});
