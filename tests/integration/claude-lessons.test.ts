import { createBrain, lessonRequirement } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  type EventOf,
  everyResource,
  type Lesson,
  LessonsQuery,
  LessonsReply,
  type Plan,
  REVIEW_CRITERIA,
  ROLES,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  type TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildTechLead } from "../../services/tech-lead/src/app.js";
import { type Conversation, startFakeAnthropic } from "../helpers/fake-anthropic.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[]) => ({
  id,
  role,
  title: `${role} work`,
  objective: "Do the work",
  context: "The churn table",
  requirements: ["Fix the seed"],
  acceptanceCriteria: role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "Runs without errors" }],
  params: role === "ml-engineer" ? { epochs: 20 } : {},
  nextHandoff: { to: "tech-lead", reason: "report back" },
  dependsOn,
  changesCode: role !== "code-reviewer",
  usesGpu: role === "ml-engineer",
});

const at = "2025-01-01T00:00:00.000Z";
const lessons: Lesson[] = [
  {
    id: "L1",
    channel: "C1",
    rule: "Train for 20 epochs unless told otherwise",
    setting: { name: "epochs", value: 20 },
    roles: [],
    source: { kind: "change_request", taskId: "tOld", text: "use 20 epochs" },
    by: "U1",
    at,
    lastAt: at,
    times: 1,
  },
  {
    id: "L2",
    channel: "C1",
    rule: "Fit the scaler on the train split only",
    roles: ["ml-engineer"],
    source: {
      kind: "review_finding",
      taskId: "tOld",
      text: "scaler fit before split",
      severity: "blocker",
      category: "data_leakage",
    },
    by: "code-reviewer",
    at,
    lastAt: at,
    times: 1,
  },
];

describe("Claude planner: the channel's lessons", () => {
  it("puts the lessons in the prompt, asks for lessonsApplied in the schema, and keeps only lessons it was given, in their words", async () => {
    const answer = {
      summary: "Train a baseline for 20 epochs, review",
      scope: "multi-agent",
      risks: [],
      steps: [step("train", "ml-engineer", []), step("review", "code-reviewer", ["train"])],
      // A reworded lesson, an invented one and a repeat: the plan keeps L1 once, as stored.
      lessonsApplied: [
        { id: "L1", text: "train 20 epochs" },
        { id: "L9", text: "made up" },
        { id: "L1", text: "again" },
      ],
    };
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(answer) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan({ taskId: "t1", text: "train a churn baseline", requester: { userId: "U1" }, lessons });
    expect(plan.lessonsApplied).toEqual([{ id: "L1", text: "Train for 20 epochs unless told otherwise" }]);

    const sent = api.requests[0]?.body;
    const prompt = JSON.stringify(sent?.messages);
    expect(prompt).toContain("- L1: Train for 20 epochs unless told otherwise (setting epochs = 20)");
    expect(prompt).toContain("- L2: Fit the scaler on the train split only [concerns ml-engineer]");
    expect(prompt).toContain("lessonsApplied");
    expect(JSON.stringify(sent?.output_config?.format?.schema)).toContain("lessonsApplied");
  });

  it("says nothing of lessons when the channel has none", async () => {
    const answer = {
      summary: "Train, review",
      scope: "multi-agent",
      risks: [],
      steps: [step("train", "ml-engineer", []), step("review", "code-reviewer", ["train"])],
      lessonsApplied: [{ id: "L1", text: "made up" }],
    };
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(answer) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan({ taskId: "t1", text: "train a churn baseline", requester: { userId: "U1" } });
    expect(plan.lessonsApplied).toBeUndefined();
    expect(JSON.stringify(api.requests[0]?.body.messages)).not.toContain("Lessons this team recorded");
  });
});

/**
 * Plays Claude for the tech lead: a plan (data → train → review) that cites the channel's lessons it is shown,
 * and the lessons a correction teaches, read in the schema (`one-off` for "…for this one", else standing).
 */
function leadScript(conv: Conversation) {
  const schema = JSON.stringify(conv.outputSchema ?? {});
  const prompt = JSON.stringify(conv.messages);
  if (schema.includes("one-off")) {
    // The person's words, as the prompt quotes them (the rules' own example says "for this one" too).
    if (prompt.includes("> use 30 epochs for this one")) {
      return {
        text: JSON.stringify({
          lessons: [
            { scope: "one-off", rule: "Train for 30 epochs", roles: ["ml-engineer"], setting: { name: "epochs", value: 30 } },
          ],
        }),
      };
    }
    if (prompt.includes("> keep fitting the scaler on the training rows only")) {
      // Says again what L1 says: first naming an id the channel does not keep (sent back), then L1.
      const repaired = prompt.includes("is not the id of a lesson listed");
      return {
        text: JSON.stringify({
          lessons: [
            {
              scope: "standing",
              rule: "Fit the scaler on the training rows only",
              roles: ["data-engineer"],
              reinforces: repaired ? "L1" : "L7",
            },
          ],
        }),
      };
    }
    return {
      text: JSON.stringify({
        lessons: [{ scope: "standing", rule: "Fit the scaler on the train split only", roles: ["data-engineer"] }],
      }),
    };
  }
  const cites = /- (L\d+): Fit the scaler/.exec(prompt)?.[1];
  return {
    text: JSON.stringify({
      summary: "Prepare the table, train, review",
      scope: "multi-agent",
      risks: [],
      steps: [
        step("data", "data-engineer", []),
        step("train", "ml-engineer", ["data"]),
        step("review", "code-reviewer", ["data", "train"]),
      ],
      ...(cites ? { lessonsApplied: [{ id: cites, text: "fit scaler on train" }] } : {}),
    }),
  };
}

describe("Claude learns the channel's lessons through the tech lead, in a schema", () => {
  it("a one-off change is not kept; a standing rule is kept, written into the affected step of the next plan and cited", async () => {
    await using nats = await startNatsServer();
    await using api = await startFakeAnthropic(leadScript);
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const bus = await Bus.connect({ url: nats.url, name: "claude-lessons", log });
    await bus.setUp(
      everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, ...ROLES.map((r) => CONSUMERS.step(r))]),
    );
    const lead = await buildTechLead({ bus, brain, log, policy: { approvers: [], maxReviewRounds: 2, maxReplans: 1 } });
    await lead.start();
    try {
      const plans = (events: TaskEvent[]) => events.filter((e): e is EventOf<"task.planned"> => e.type === "task.planned");
      const lessons = async () => {
        const r = await bus.request(SUBJECTS.lessonsQuery, LessonsQuery, LessonsReply, { v: 1, channel: "C1" });
        return r.ok ? r.lessons : [];
      };
      const start = async (taskId: string) => {
        const events = await collectEvents(bus, taskId);
        const create = {
          v: 1 as const,
          taskId,
          text: "train a churn model on the customers table",
          requester: { userId: "UREQ" },
          slack: { channel: "C1", threadTs: `${taskId}.1`, messageTs: `${taskId}.1` },
          requestedAt: new Date().toISOString(),
        };
        await bus.publish(SUBJECTS.taskCreate, TaskCreate, create, `create-${taskId}`);
        await waitFor(() => plans(events).length >= 1, 20_000, `the plan of ${taskId}`);
        return events;
      };
      const change = async (taskId: string, id: string, feedback: string) => {
        const cmd = { v: 1 as const, taskId, decisionId: id, decision: "request_changes" as const, userId: "UREQ" };
        await bus.publish(
          SUBJECTS.taskDecide,
          TaskDecide,
          { ...cmd, via: "reply", decidedAt: new Date().toISOString(), feedback },
          id,
        );
      };

      const t1 = await start("tCl1");
      // "For this one": Claude marks it one-off; the revision follows it, the channel keeps nothing.
      await change("tCl1", "ch1", "use 30 epochs for this one");
      await waitFor(() => plans(t1).length >= 2, 20_000, "the first revision");
      expect(await lessons()).toEqual([]);
      const learnt = api.requests.filter((r) => JSON.stringify(r.body.output_config?.format ?? {}).includes("one-off"));
      expect(learnt).toHaveLength(1);
      expect(JSON.stringify(learnt[0]?.body.messages)).toContain("> use 30 epochs for this one");
      // What learning cost counts towards the task: plan, lesson, revision.
      await waitFor(async () => (await lead.store.get("tCl1"))?.usage?.requests === 3, 20_000, "the lesson's usage counted");

      // "Always …": a standing rule, kept with the roles Claude named.
      await change("tCl1", "ch2", "always fit the scaler on train only");
      await waitFor(() => plans(t1).length >= 3, 20_000, "the second revision");
      expect(await lessons()).toMatchObject([
        {
          id: "L1",
          rule: "Fit the scaler on the train split only",
          roles: ["data-engineer"],
          source: { kind: "change_request", taskId: "tCl1", text: "always fit the scaler on train only" },
        },
      ]);

      // The next task's plan: the rule is a requirement of the step it affects (not the others), and cited.
      const t2 = await start("tCl2");
      const planned = plans(t2)[0] as EventOf<"task.planned">;
      const required = lessonRequirement({ id: "L1", rule: "Fit the scaler on the train split only" });
      expect(planned.plan.steps.find((s) => s.id === "data")?.requirements).toContain(required);
      expect(planned.plan.steps.find((s) => s.id === "train")?.requirements).not.toContain(required);
      expect(planned.plan.lessonsApplied).toEqual([{ id: "L1", text: "Fit the scaler on the train split only" }]);

      // The same rule in other words: Claude names the lesson it says again (an id the channel does not keep is
      // sent back once), and the book reinforces L1 in the newer words instead of adding a second lesson.
      await change("tCl2", "ch3", "keep fitting the scaler on the training rows only");
      await waitFor(() => plans(t2).length >= 2, 20_000, "the revision of tCl2");
      expect(await lessons()).toMatchObject([{ id: "L1", rule: "Fit the scaler on the training rows only", times: 2 }]);
      expect(await lessons()).toHaveLength(1);
    } finally {
      await lead.stop();
      await bus.close();
    }
  });
});
