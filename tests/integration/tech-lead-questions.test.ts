import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createBrain } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import {
  CONSUMERS,
  everyResource,
  type Plan,
  STREAMS,
  StepWork,
  SUBJECTS,
  stepBrief,
  TaskCreate,
  TaskDecide,
  type TaskEvent,
} from "@mllead/contracts";
import { testStep } from "@mllead/contracts/testing";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { serveScout } from "../../services/specialist-agent/src/scout.js";
import { buildTechLead } from "../../services/tech-lead/src/app.js";
import { startFakeAnthropic } from "../helpers/fake-anthropic.js";
import { git, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

/** Claude's plan, as its structured output (no `brain`: the brain sets it). */
function claudePlan(questions: boolean): Omit<Plan, "brain"> {
  return {
    summary: "Validate the customers table, then review.",
    scope: "multi-agent",
    track: "experiment",
    risks: [{ risk: "Leakage through the scaler.", mitigation: "Fit it on the train split only." }],
    steps: [
      { ...testStep("data", "data-engineer"), kind: "data" },
      { ...testStep("review", "code-reviewer", { dependsOn: ["data"] }), kind: "review" },
    ],
    assumptions: ["The label column is churned."],
    ...(questions
      ? {
          questions: [
            {
              id: "goal",
              text: "Which model should improve, and by which metric?",
              choices: ["the churn model, by val AUC", "the churn model, by recall"],
            },
          ],
        }
      : {}),
  };
}

let n = 0;
const decide = (taskId: string, decision: TaskDecide["decision"], extra: Partial<TaskDecide> = {}): TaskDecide => ({
  v: 1,
  taskId,
  decisionId: `d${++n}`,
  decision,
  userId: "UREQ",
  via: "button",
  decidedAt: new Date().toISOString(),
  ...extra,
});

describe("tech lead with Claude: the repository's context in the plan, and questions before approval", () => {
  it("plans with the scout's report, asks, refuses approval until answered, re-plans with the answer, then runs", async () => {
    await using dir = await tempDir();
    await using nats = await startNatsServer();
    const repo = join(dir.path, "team");
    await mkdir(join(repo, "src"), { recursive: true });
    await writeFile(join(repo, "README.md"), "# Churn project\nThe model lives in src/churn.py.\n");
    await writeFile(join(repo, "src", "churn.py"), "print('churn')\n");
    await git(repo, "init", "--quiet");
    await git(repo, "add", "--all");
    await git(repo, "commit", "--quiet", "-m", "Add the churn model");
    const data = join(dir.path, "data");
    await mkdir(data);
    await writeFile(join(data, "customers.csv"), "customer_id,tenure_months,churned\n1,12,0\n2,3,1\n");

    await using api = await startFakeAnthropic((conv) => {
      const revising = JSON.stringify(conv.messages).includes("Revise the plan");
      return { text: JSON.stringify(claudePlan(!revising)) };
    });
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const bus = await Bus.connect({ url: nats.url, name: "tech-lead", log });
    const specialist = await Bus.connect({ url: nats.url, name: "specialist", log });
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, CONSUMERS.step("data-engineer")]));
    const source = await openSourceRepo({ repo, stateDir: join(dir.path, "state"), demoSourceDir: dir.path });
    await serveScout(specialist, { source: async () => source, dataDirs: [data], bus: specialist, log });
    const lead = await buildTechLead({ bus, brain, log, policy: { approvers: [], maxReviewRounds: 1, maxReplans: 1 } });
    await lead.start();
    try {
      const events = await collectEvents(bus, "tq1");
      const of = <T extends TaskEvent["type"]>(type: T) =>
        events.filter((e): e is Extract<TaskEvent, { type: T }> => e.type === type);
      const create: TaskCreate = {
        v: 1,
        taskId: "tq1",
        text: "improve the model",
        requester: { userId: "UREQ" },
        slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
        requestedAt: new Date().toISOString(),
      };
      await bus.publish(SUBJECTS.taskCreate, TaskCreate, create, "evt-q1");
      await waitFor(() => of("task.planned").length === 1, 30_000, "the first plan");

      // What Claude was asked with: the repository as the scout read it, and the rule to ask rather than invent.
      const asked = JSON.stringify(api.requests[0]?.body.messages);
      expect(asked).toContain("The team's repository, as the scout read it");
      expect(asked).toContain("# Churn project");
      expect(asked).toContain("src/churn.py");
      expect(asked).toContain("customers.csv");
      expect(asked).toContain("customer_id,tenure_months,churned");
      expect(asked).toContain("Add the churn model");
      // The rules (in the cached system block or the message) tell Claude to ask rather than invent.
      expect(JSON.stringify(api.requests[0]?.body)).toMatch(/do not invent the answer: ask in questions/);
      const first = of("task.planned")[0];
      expect(first?.plan.questions?.[0]?.id).toBe("goal");
      expect(first?.plan.assumptions).toEqual(["The label column is churned."]);

      // Approve is refused while the question is open; nothing runs.
      await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tq1", "approve", { revision: 1 }), "dq-approve-1");
      await waitFor(() => of("task.decision_rejected").length === 1, 20_000, "the refusal");
      expect(of("task.decision_rejected")[0]?.reason).toMatch(/Which model should improve/);
      expect((await bus.streamState(STREAMS.steps.name)).messages).toBe(0);

      // The answer (a button: the question's id and the choice's index) revises the plan.
      const answer = decide("tq1", "answer", { revision: 1, answers: [{ questionId: "goal", choice: 1 }] });
      await bus.publish(SUBJECTS.taskDecide, TaskDecide, answer, answer.decisionId);
      await waitFor(() => of("task.planned").length === 2, 30_000, "the revised plan");
      expect(of("task.changes_requested")[0]).toMatchObject({ answers: true });
      const revisionAsked = JSON.stringify(api.requests.at(-1)?.body.messages);
      expect(revisionAsked).toContain("Answers to the plan's questions:");
      expect(revisionAsked).toContain("Which model should improve, and by which metric? → the churn model, by recall");
      const second = of("task.planned")[1];
      expect(second?.revision).toBe(2);
      expect(second?.plan.questions).toBeUndefined();

      // Now it can be approved, and the first step's work carries the plan's brief.
      await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tq1", "approve", { revision: 2 }), "dq-approve-2");
      await waitFor(async () => (await bus.streamState(STREAMS.steps.name)).messages === 1, 20_000, "the work");
      const msg = await (await rawNats(bus).js.consumers.get(STREAMS.steps.name, "step-data-engineer")).next();
      const work = StepWork.parse(msg?.json());
      msg?.ack();
      expect(work.brief).toEqual(stepBrief(second?.plan as Plan));
      expect(work.brief?.assumptions).toEqual(["The label column is churned."]);
    } finally {
      await lead.stop();
      await specialist.close();
      await bus.close();
    }
  });

  it("plans without the repository's context when no specialist answers, and the plan says so", async () => {
    await using nats = await startNatsServer();
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(claudePlan(false)) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const bus = await Bus.connect({ url: nats.url, name: "tech-lead", log });
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults]));
    const lead = await buildTechLead({ bus, brain, log, policy: { approvers: [], maxReviewRounds: 1, maxReplans: 1 } });
    await lead.start();
    try {
      const events = await collectEvents(bus, "tq2");
      await bus.publish(
        SUBJECTS.taskCreate,
        TaskCreate,
        {
          v: 1,
          taskId: "tq2",
          text: "train a baseline on the churn table",
          requester: { userId: "UREQ" },
          slack: { channel: "C1", threadTs: "2.0", messageTs: "2.0" },
          requestedAt: new Date().toISOString(),
        },
        "evt-q2",
      );
      await waitFor(() => events.some((e) => e.type === "task.planned"), 30_000, "the plan");
      const planned = events.find((e) => e.type === "task.planned");
      const assumptions = planned?.type === "task.planned" ? planned.plan.assumptions : [];
      expect(assumptions?.[0]).toMatch(/Planned without reading the repository \(no specialist-agent answered the scout\)/);
      expect(JSON.stringify(api.requests[0]?.body.messages)).toContain(
        "The repository could not be read before planning: no specialist-agent answered the scout",
      );
    } finally {
      await lead.stop();
      await bus.close();
    }
  });
});
