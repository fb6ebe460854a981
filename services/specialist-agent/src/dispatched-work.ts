import { isDeepStrictEqual } from "node:util";
import { type Bus, InvalidRecordError, type TypedKv } from "@mllead/bus";
import { BUCKETS, type StepWork, stepBrief, TaskRecord, undispatchedReason } from "@mllead/contracts";

/** Why a work message must not run, or null to run it. Throws when it cannot tell (the message is redelivered). */
export type WorkCheck = (work: StepWork) => Promise<string | null>;

/** For tests that run specialists without a tech lead (no task records): every work message runs. */
export const acceptAnyWork: WorkCheck = async () => null;

/**
 * Why `work` is not the work order the tech lead dispatched, or null when it is: its step attempt must
 * be one the tech lead dispatched and waits for (`undispatchedReason`), and everything it tells the
 * model — the step, the plan's brief, the task, the reviewer's findings, the results of earlier steps — must be what the
 * task's record holds, so a forged message cannot slip other instructions or results into a real step.
 */
export function workMismatch(task: TaskRecord | null, work: StepWork): string | null {
  const why = undispatchedReason(task, work);
  if (why || !task?.plan) return why ?? "the task has no plan";
  const plan = task.plan;
  const state = task.steps[work.stepId];
  if (
    !isDeepStrictEqual(
      work.step,
      plan.steps.find((s) => s.id === work.stepId),
    )
  )
    return "its step is not the plan's";
  if (work.brain !== plan.brain) return `it names the ${work.brain} brain; the plan is ${plan.brain}`;
  // The brief is told to the model too: only the recorded plan's (absent in work dispatched before briefs).
  if (work.brief && !isDeepStrictEqual(work.brief, stepBrief(plan))) return "its brief is not the plan's";
  const { text, requester, slack } = task;
  if (!isDeepStrictEqual(work.task, { text, requester, slack })) return "its task is not the recorded one";
  if (!isDeepStrictEqual(work.findings, state?.findings ?? [])) return "its findings are not the step's";
  for (const u of [...work.upstream, ...work.reviewScope]) {
    const s = plan.steps.find((p) => p.id === u.stepId);
    const done = task.steps[u.stepId];
    if (
      !s ||
      s.role !== u.role ||
      s.title !== u.title ||
      done?.status !== "completed" ||
      !isDeepStrictEqual(done.result, u.result)
    )
      return `its result of step ${u.stepId} is not the recorded one`;
  }
  return null;
}

/**
 * The specialist's check of every work message against the task's record in `mllead_tasks` (written by
 * the tech lead alone): only what the tech lead dispatched runs. A record that does not parse is no task.
 */
export function recordedWorkCheck(bus: Bus): WorkCheck {
  let tasks: Promise<TypedKv<typeof TaskRecord>> | undefined;
  return async (work) => {
    tasks ??= bus.kv(BUCKETS.tasks, TaskRecord).catch((err: unknown) => {
      tasks = undefined;
      throw err;
    });
    try {
      return workMismatch((await (await tasks).get(work.taskId))?.value ?? null, work);
    } catch (err) {
      if (err instanceof InvalidRecordError) return `the task's record does not parse (${err.issues.slice(0, 200)})`;
      throw err;
    }
  };
}
