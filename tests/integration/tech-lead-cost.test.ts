import { loadAgents } from "@mllead/agents";
import { createClaudeBrain, createClaudeClient } from "@mllead/brain/claude";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  emitEvent,
  everyResource,
  formatUsd,
  ROLES,
  type TaskEvent,
  TaskEvent as TaskEventSchema,
  type TaskRecord,
  taskIdFor,
  type Usage,
  withCost,
} from "@mllead/contracts";
import { buildHttpApp, createLogger, createRegistry } from "@mllead/service-kit";
import { type SandboxMessage, startSlackSandbox } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { createGateway } from "../../services/slack-gateway/src/app.js";
import { buildTechLead } from "../../services/tech-lead/src/app.js";
import type { LeadRetryPolicy } from "../../services/tech-lead/src/lead-failures.js";
import { TEAM_PLAN } from "../helpers/claude-team.js";
import {
  type Conversation,
  type FakeAnthropic,
  type FakeReply,
  startFakeAnthropic,
  stopWith,
  text,
  turn,
} from "../helpers/fake-anthropic.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const BOT_TOKEN = "xoxb-cost-test";
const SIGNING_SECRET = "cost-test-signing-secret";

const isPlanRequest = (conv: Conversation) => JSON.stringify(conv.outputSchema ?? {}).includes("acceptanceCriteria");
const SUMMARY = "Claude's summary: the baseline is trained, plotted and reviewed.";

/** Plays Claude for the tech lead: `plan` answers plan requests (the team's plan by default), the summary otherwise. */
function leadScript(plan: () => FakeReply = () => ({ text: JSON.stringify(TEAM_PLAN) })) {
  return (conv: Conversation): FakeReply => (isPlanRequest(conv) ? plan() : turn(text(SUMMARY)));
}

/**
 * Slack (the sandbox), the real gateway and the real tech lead with the Claude brain, the real SDK pointed at a
 * local fake Messages API, on a private nats-server. No specialists: the test reports the steps itself.
 */
async function startTeam(
  api: FakeAnthropic,
  o: { budgetUsd?: number; leadRetry?: Partial<LeadRetryPolicy>; brainRetries?: number } = {},
) {
  const nats = await startNatsServer();
  const sandbox = await startSlackSandbox({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
  const gwBus = await Bus.connect({ url: nats.url, name: "slack-gateway", log });
  await gwBus.setUp(everyResource([CONSUMERS.gateway, CONSUMERS.techLeadCommands]));
  const http = buildHttpApp({ log, registry: createRegistry("slack-gateway"), checks: { readiness: {} } });
  const gateway = await createGateway({
    config: {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: sandbox.apiUrl,
      GATEWAY_PORT: 0,
      GATEWAY_BACKGROUND: "inline",
    },
    log,
    bus: gwBus,
    http,
  });
  await http.listen({ port: 0, host: "127.0.0.1" });
  const addr = http.server.address();
  sandbox.setGatewayUrl(`http://127.0.0.1:${addr && typeof addr === "object" ? addr.port : 0}/slack/events`);

  const bus = await Bus.connect({ url: nats.url, name: "tech-lead", log });
  await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, ...ROLES.map((r) => CONSUMERS.step(r))]));
  const brain = createClaudeBrain({
    client: createClaudeClient({ apiKey: api.apiKey, baseURL: api.url, maxRetries: 0 }),
    agents: await loadAgents(),
    log,
    retry: { retries: o.brainRetries ?? 1, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const lead = await buildTechLead({
    bus,
    brain,
    log,
    policy: { approvers: ["U0LEAD"], maxReviewRounds: 1, maxReplans: 1, taskBudgetUsd: o.budgetUsd },
    leadRetry: { baseDelayMs: 200, maxDelayMs: 1000, ...o.leadRetry },
  });
  await lead.start();

  const channel = sandbox.defaultChannel;
  const sent = await sandbox.mention("train a baseline on the churn table and plot its loss");
  const taskId = taskIdFor(channel, sent.ts, sandbox.bot.teamId);
  const events = await collectEvents(bus, taskId);
  const thread = () => botMessages(sandbox.thread(channel, sent.ts));
  const messages = (kind: string) => thread().filter((m) => kindOf(m) === kind);
  const record = async () => (await lead.store.get(taskId)) as TaskRecord;
  return {
    sandbox,
    bus,
    lead,
    taskId,
    sent,
    events,
    thread,
    messages,
    record,
    /** Waits for the first message of a kind (an event type, or `card`) and returns it. */
    async message(kind: string, what = kind, timeoutMs = 20_000): Promise<SandboxMessage> {
      await waitFor(() => messages(kind).length > 0, timeoutMs, what);
      return messages(kind)[0] as SandboxMessage;
    },
    /** What the status card shows now ("" before it is posted). */
    card: () => {
      const card = messages("card")[0];
      return card ? visibleText(card) : "";
    },
    seen: () =>
      thread()
        .map((m) => `${kindOf(m)}: ${m.text}`)
        .join("\n"),
    async [Symbol.asyncDispose]() {
      await lead.stop();
      await bus.close();
      await gateway.stop();
      await http.close();
      await gwBus.close();
      await sandbox.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

type Team = Awaited<ReturnType<typeof startTeam>>;

/** A specialist's Claude usage for one step: `input` prompt tokens and a tenth of that out, on Sonnet 5.5. */
const stepUsage = (input: number): Usage =>
  withCost(
    { inputTokens: input, outputTokens: input / 10, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 3, toolCalls: 4 },
    "claude-sonnet-5-5",
  );

/** Reports a step of TEAM_PLAN as done, every criterion met, as its specialist would. */
async function finishStep(team: Team, stepId: string, usage: Usage, attempt = 1): Promise<void> {
  const step = TEAM_PLAN.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  await emitEvent(
    team.bus,
    TaskEventSchema.parse({
      v: 1,
      eventId: `test.${team.taskId}.${stepId}.${attempt}.completed`,
      taskId: team.taskId,
      at: new Date().toISOString(),
      type: "step.completed",
      stepId,
      role: step.role,
      attempt,
      title: step.title,
      result: {
        status: "succeeded",
        summary: `${step.title}: done`,
        criteria: step.acceptanceCriteria.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: "checked" })),
        usage,
        ...(step.role === "code-reviewer"
          ? { verdict: { decision: "approve", summary: "Looks right.", findings: [], checks: [] } }
          : {}),
      },
    }),
  );
}

async function dispatched(team: Team, stepId: string, attempt = 1): Promise<void> {
  await waitFor(
    async () => {
      const st = (await team.record()).steps[stepId];
      return st?.status === "dispatched" && st.attempt === attempt;
    },
    20_000,
    `step ${stepId} dispatched`,
  );
}

const hasButton = (m: SandboxMessage, actionId: string) => JSON.stringify(m.blocks ?? []).includes(`"action_id":"${actionId}"`);
const types = (events: TaskEvent[]) => events.map((e) => e.type);

describe("every Claude failure of the tech lead has an answer in the thread", () => {
  it("a refusal on every try ends with a message offering Retry; a reply `retry` plans, and no re-plan is spent", async () => {
    let refuse = true;
    await using api = await startFakeAnthropic(
      leadScript(() =>
        refuse ? stopWith(turn(text("I can't help with that.")), "refusal") : { text: JSON.stringify(TEAM_PLAN) },
      ),
    );
    await using team = await startTeam(api);
    const failed = await team.message("task.brain_failed", "the refusal in the thread");
    expect(visibleText(failed)).toMatch(/Claude could not write a plan/);
    expect(visibleText(failed)).toMatch(/Claude declined to write a plan for this task \(3 tries\)/);
    expect(visibleText(failed)).toMatch(/reply `retry`/);
    expect(hasButton(failed, "mllead_retry")).toBe(true);
    expect((await team.record()).state).toBe("planning");
    // The card says what the task waits for, not that it is writing a plan.
    await waitFor(() => /Waiting for a retry/.test(team.card()), 20_000, "the card");

    refuse = false;
    await team.sandbox.reply(team.sent.ts, "retry");
    const plan = await team.message("task.planned", `the plan after the retry\n${team.seen()}`);
    expect(visibleText(plan)).toMatch(/Plan · revision 1/);
    const task = await team.record();
    expect(task).toMatchObject({ state: "awaiting_approval", replans: 0, revision: 1 });
    // The three refused tries and the plan are all counted.
    expect(task.usage?.requests).toBe(4);
    expect(task.usage?.costUsd).toBeGreaterThan(0);
    expect(types(team.events)).toEqual(expect.arrayContaining(["task.brain_failed", "task.retrying", "task.planned"]));
    expect(types(team.events)).not.toContain("task.failed");
  });

  it("output that breaks the plan's constraints after the repairs offers Retry; the button plans", async () => {
    const bad = { ...TEAM_PLAN, steps: TEAM_PLAN.steps.map((s, i) => (i === 0 ? { ...s, title: "t".repeat(151) } : s)) };
    let broken = true;
    await using api = await startFakeAnthropic(leadScript(() => ({ text: JSON.stringify(broken ? bad : TEAM_PLAN) })));
    await using team = await startTeam(api);
    const failed = await team.message("task.brain_failed", "the bad output in the thread");
    expect(visibleText(failed)).toMatch(/did not fit the plan format after 2 repairs/);
    expect(visibleText(failed)).toContain("claude_bad_output");
    broken = false;
    // Someone who neither asked nor approves cannot retry; the requester can.
    await team.sandbox.click(failed.ts, "mllead_retry", { user: "U0STRANGER" });
    await waitFor(() => team.sandbox.ephemerals(undefined, "U0STRANGER").length === 1, 20_000, "the stranger's refusal");
    await team.sandbox.click(failed.ts, "mllead_retry");
    await team.message("task.planned", `the plan after Retry\n${team.seen()}`);
    expect((await team.record()).replans).toBe(0);
  });

  it("a 529 burst longer than the brain's retries is waited out by the tech lead: no failure, no re-plan", async () => {
    await using api = await startFakeAnthropic(leadScript());
    const overloaded = { status: 529, type: "overloaded_error", message: "Overloaded", retryAfter: 0.001 };
    // Two brain calls' worth of 529s (each call: one try and one retry).
    api.enqueue(overloaded, overloaded, overloaded, overloaded);
    await using team = await startTeam(api);
    await team.message("task.planned", "the plan after the burst", 30_000);
    expect(api.requests.map((r) => r.status)).toEqual([529, 529, 529, 529, 200]);
    const waits = team.messages("task.brain_failed");
    expect(waits).toHaveLength(2);
    expect(visibleText(waits[0] as SandboxMessage)).toMatch(/I will try again by myself at/);
    expect(hasButton(waits[0] as SandboxMessage, "mllead_retry")).toBe(false);
    const task = await team.record();
    expect(task).toMatchObject({ state: "awaiting_approval", replans: 0 });
    expect(task.brainFailure).toBeUndefined();
    expect(types(team.events)).not.toContain("task.failed");
  });
});

describe("cost in view", () => {
  it("the status card, the summary and /mllead status show what the task's Claude calls cost", async () => {
    await using api = await startFakeAnthropic(leadScript());
    await using team = await startTeam(api);
    const plan = await team.message("task.planned", "the plan");
    const planned = await team.record();
    const planCost = planned.usage?.costUsd ?? 0;
    expect(planCost).toBeGreaterThan(0);
    await team.sandbox.click(plan.ts, "mllead_approve");
    const steps: [string, number][] = [
      ["data", 20_000],
      ["train", 40_000],
      ["analyze", 10_000],
      ["review", 30_000],
    ];
    for (const [stepId, tokens] of steps) {
      await dispatched(team, stepId);
      await finishStep(team, stepId, stepUsage(tokens));
    }
    const summary = await team.message("task.completed", `the summary\n${team.seen()}`);
    const done = await team.record();
    expect(done.state).toBe("done");
    const stepsCost = steps.reduce((n, [, tokens]) => n + (stepUsage(tokens).costUsd ?? 0), 0);
    const total = done.usage?.costUsd ?? 0;
    // Plan + four steps + the summary, each priced per model.
    expect(total).toBeGreaterThan(planCost + stepsCost);
    expect(done.usage?.requests).toBe(1 + 4 * 3 + 1);
    expect(done.steps.train?.usage?.costUsd).toBeCloseTo(stepUsage(40_000).costUsd ?? 0, 10);
    const completed = team.events.find((e) => e.type === "task.completed");
    expect(completed?.type === "task.completed" && completed.usage?.costUsd).toBeCloseTo(total, 10);

    expect(visibleText(summary)).toContain(`*Cost:* ${formatUsd({ costUsd: total })}`);
    await waitFor(
      () => team.card().includes(`Cost: ${formatUsd({ costUsd: total })}`),
      20_000,
      `the card's cost\n${team.card()}`,
    );
    expect(team.card()).toContain(formatUsd({ costUsd: stepUsage(40_000).costUsd ?? 0 }));
    const status = await team.sandbox.slash("status", { channel: team.sandbox.defaultChannel });
    expect(status.text).toContain(formatUsd({ costUsd: total }));
  });
});

describe("MLLEAD_TASK_BUDGET_USD", () => {
  it("a task that reaches its budget stops dispatching and asks; Go on continues, and `stop` cancels at the next one", async () => {
    await using api = await startFakeAnthropic(leadScript());
    await using team = await startTeam(api, { budgetUsd: 0.5 });
    const plan = await team.message("task.planned", "the plan");
    await team.sandbox.click(plan.ts, "mllead_approve");
    await dispatched(team, "data");
    // 200k tokens in and 20k out on Sonnet 5.5: $0.60, past the $0.50 budget.
    await finishStep(team, "data", stepUsage(200_000));
    const asked = await team.message("task.budget_reached", `the budget question\n${team.seen()}`);
    const spent = (await team.record()).usage?.costUsd ?? 0;
    expect(visibleText(asked)).toContain(`This task has used *${formatUsd({ costUsd: spent })}* of its *$0.50* budget; go on?`);
    expect(hasButton(asked, "mllead_budget_go_on") && hasButton(asked, "mllead_budget_stop")).toBe(true);
    expect((await team.record()).steps.train?.status).toBe("pending");
    await waitFor(() => /go on\?/.test(team.card()), 20_000, "the card's question");

    // A stranger's Go on is refused; the requester's goes on with another $0.50 from what was spent.
    await team.sandbox.click(asked.ts, "mllead_budget_go_on", { user: "U0STRANGER" });
    await waitFor(() => team.sandbox.ephemerals(undefined, "U0STRANGER").length === 1, 20_000, "the stranger's refusal");
    expect((await team.record()).steps.train?.status).toBe("pending");
    await team.sandbox.click(asked.ts, "mllead_budget_go_on");
    await team.message("task.budget_raised", "go on in the thread");
    await dispatched(team, "train");
    expect((await team.record()).budget?.limitUsd).toBeCloseTo(spent + 0.5, 10);

    // The next step passes the raised budget too: asked again, and `stop` cancels with the reason.
    await finishStep(team, "train", stepUsage(200_000));
    await waitFor(() => team.messages("task.budget_reached").length === 2, 20_000, "the second budget question");
    expect((await team.record()).steps.analyze?.status).toBe("pending");
    await team.sandbox.reply(team.sent.ts, "stop");
    const cancelled = await team.message("task.cancelled", "the cancellation");
    expect(visibleText(cancelled)).toMatch(
      /Task cancelled by <@U\w+>: stopped at its budget: it had used \$1\.\d\d of \$1\.\d\d/,
    );
    const task = await team.record();
    expect(task.state).toBe("cancelled");
    expect(task.steps.analyze?.status).toBe("skipped");
    expect(types(team.events).filter((t) => t === "task.budget_reached")).toHaveLength(2);
  });
});
