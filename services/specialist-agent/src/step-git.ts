import { type Brain, NOT_COMMITTED_PREFIX } from "@mllead/brain";
import type { StepResult, StepWork } from "@mllead/contracts";
import { scrubSecrets } from "@mllead/service-kit";
import type { Logger } from "pino";
import { isRetryable } from "./errors.js";
import type { SourceRepo } from "./git-repo.js";
import { commitStep, pushBranch, type UncommittedFile } from "./task-branch.js";
import { type BranchSync, joinStepCommit } from "./task-branch-sync.js";
import { carryTaskFiles } from "./task-files-carry.js";
import { captureLeftovers, type DiscardResult, discardStepChanges, type Leftovers } from "./task-reset.js";
import type { TaskWorktree } from "./task-worktree.js";
import { guardWorktree } from "./worktree-guard.js";

/** Most warnings a result carries, and their length (the contract's limits). */
const MAX_WARNINGS = 10;
const MAX_WARNING_CHARS = 500;

/** A line of the thread for git metadata a step changed and the service put back. */
function tamperWarning(note: string): string {
  return `this step changed git metadata that belongs to mllead: ${note}`;
}

/** A line of the thread for a changed file the commit left out. */
function uncommittedWarning(u: UncommittedFile): string {
  switch (u.reason) {
    case "too_large":
      return `${u.path} (${u.bytes} bytes) is too large to commit; it goes to the next steps as a task file (within MLLEAD_TASK_FILES_MAX_FILE_MB)`;
    case "nested_repo":
      return `${u.path} is a git repository inside the worktree; not committed`;
    case "unreadable_name":
      return `${u.path} has a name that is not UTF-8; not committed`;
    default: {
      const never: never = u.reason;
      return String(never);
    }
  }
}

function withWarnings(result: StepResult, warnings: string[]): StepResult {
  const all = [...(result.warnings ?? []), ...warnings];
  return all.length ? { ...result, warnings: all.slice(0, MAX_WARNINGS).map((w) => w.slice(0, MAX_WARNING_CHARS)) } : result;
}

/**
 * Runs a step's brain. The code reviewer changes nothing: the files it could
 * not commit anyway are noted before it runs, and afterwards — whatever
 * became of the step, so a failed review cannot hand its edits to the next
 * step's commit — everything it changed is discarded (`review`).
 */
export async function runStepOnBranch<T>(
  work: StepWork,
  wt: TaskWorktree,
  log: Logger,
  run: () => Promise<T>,
): Promise<{ raw: T; review?: DiscardResult }> {
  if (work.role !== "code-reviewer") return { raw: await run() };
  const leftovers = await captureLeftovers(wt);
  let failed = true;
  try {
    const raw = await run();
    failed = false;
    return { raw, review: await discardReview(wt, leftovers, log) };
  } finally {
    // The review failed: its changes are discarded all the same, then its error goes on.
    if (failed) await discardReview(wt, leftovers, log);
  }
}

/** Discards what the reviewer changed (see `discardStepChanges`) and logs what was put back. */
async function discardReview(wt: TaskWorktree, leftovers: Leftovers, log: Logger): Promise<DiscardResult> {
  const review = await discardStepChanges(wt, leftovers);
  if (review.tampered.length > 0) log.warn({ tampered: review.tampered }, "the reviewer changed git metadata; put back");
  if (review.discarded.length > 0)
    log.warn({ discarded: review.discarded.slice(0, 50) }, "the reviewer's changes were discarded");
  return review;
}

/**
 * A review's result: no commits (the branch is where the reviewer found it),
 * and what was discarded or put back as warnings for the thread.
 */
export function reviewedResult(wt: TaskWorktree, result: StepResult, review: DiscardResult): StepResult {
  const warnings = review.tampered.map(tamperWarning);
  if (review.discarded.length > 0) {
    const shown = review.discarded.slice(0, 8).join(", ");
    const more = review.discarded.length > 8 ? ` and ${review.discarded.length - 8} more` : "";
    warnings.push(`the reviewer changes nothing: its changes to ${shown}${more} were discarded, not committed`);
  }
  return withWarnings(
    { ...result, filesChanged: [], git: { branch: wt.taskBranch, baseCommit: wt.baseCommit, commits: [] } },
    warnings,
  );
}

/**
 * Commits what the step changed (one commit per step; none when nothing
 * changed; the same commit again when a resumed attempt already made it) and
 * records the branch, the commit and the files on the result. Git metadata
 * the step changed was put back first; the result and the log say so.
 */
export async function committedResult(
  work: StepWork,
  wt: TaskWorktree,
  result: StepResult,
  log: Logger,
  sync?: BranchSync,
): Promise<StepResult> {
  const done = await commitStep(wt, {
    taskId: work.taskId,
    stepId: work.stepId,
    role: work.role,
    attempt: work.attempt,
    title: work.step.title,
  });
  if (done.tampered.length > 0) log.warn({ tampered: done.tampered }, "the step changed git metadata; put back");
  const warnings = [...done.tampered.map(tamperWarning), ...done.uncommitted.slice(0, 5).map(uncommittedWarning)];
  let c = done.commit;
  if (c) log.info({ sha: c.sha, files: c.files.length, reused: c.reused }, "step committed");
  if (c && sync) {
    // The step's commit joins the task's shared branch: as it is, or re-applied onto what other steps added.
    const joined = await joinStepCommit(sync, c.sha, { stepId: work.stepId, attempt: work.attempt });
    if (joined.sha !== c.sha)
      log.info({ sha: joined.sha, onto: joined.rebasedOnto }, "step commit re-applied onto the task's head");
    c = { ...c, sha: joined.sha };
  }
  // What the step left uncommitted (ignored data, models) travels to the task's next steps, before its worktree goes.
  if (sync) warnings.push(...(await carriedWarnings(sync, wt, work, done.uncommitted, log)));
  // A fix round is judged by what it changed, not by what it says: one that changed nothing says so.
  const fixRound = work.role !== "code-reviewer" && work.findings.length > 0;
  const fixNote = fixRound && !c;
  const committed: StepResult = {
    ...result,
    // What the step changed is what git recorded: a fix round that changed nothing reports no files.
    filesChanged: c ? c.files.slice(0, 200) : fixRound ? [] : result.filesChanged,
    git: {
      branch: wt.taskBranch,
      baseCommit: wt.baseCommit,
      commits: c ? [{ sha: c.sha, message: (c.message.split("\n")[0] ?? "").slice(0, 500), stepId: work.stepId }] : [],
    },
  };
  if (!fixNote) return withWarnings(committed, warnings);
  const note = `this fix round changed no files, so none of the ${work.findings.length} finding(s) it was sent is addressed in the code`;
  return withWarnings({ ...committed, warnings: [note, ...(result.warnings ?? [])] }, warnings);
}

/** `carryTaskFiles`'s warnings; a file problem it did not expect is one more warning, a NATS failure is redelivered. */
async function carriedWarnings(
  sync: BranchSync,
  wt: TaskWorktree,
  work: StepWork,
  uncommitted: readonly UncommittedFile[],
  log: Logger,
): Promise<string[]> {
  try {
    return await carryTaskFiles(sync, wt, { stepId: work.stepId, attempt: work.attempt }, uncommitted);
  } catch (err) {
    if (isRetryable(err)) throw err;
    log.warn({ err }, "the step's uncommitted files could not be carried");
    return [`this step's uncommitted files (ignored data, models) could not be carried to the next steps: ${errorMessage(err)}`];
  }
}

const errorMessage = (err: unknown) => scrubSecrets(err instanceof Error ? err.message : String(err)).slice(0, 300);

/**
 * The code reviewer's approval is the last gate: the task's branch is ready,
 * so exactly the commit it reviewed (`sha`, where the service left the
 * branch) is pushed to `remote` (MLLEAD_PUSH_REMOTE) when one is set. A failed
 * push is a warning on the result, not a failed review.
 */
export async function pushedResult(
  work: StepWork,
  wt: TaskWorktree,
  result: StepResult,
  log: Logger,
  remote: string | undefined,
  sha: string | undefined,
): Promise<StepResult> {
  if (!remote || work.role !== "code-reviewer" || result.verdict?.decision !== "approve" || !result.git) return result;
  try {
    const pushed = await pushBranch(wt, remote, sha);
    log.info({ remote: pushed.remote, ref: pushed.ref, sha: pushed.sha }, "branch pushed");
    return { ...result, git: { ...result.git, pushed: { remote: pushed.remote.slice(0, 500), ref: pushed.ref } } };
  } catch (err) {
    log.warn({ err }, "could not push the task's branch");
    const why = scrubSecrets(err instanceof Error ? err.message : String(err));
    return withWarnings(result, [`could not push ${wt.taskBranch}: ${why}`]);
  }
}

/**
 * Whether a step's work is committed on the task's branch (and the branch pushed after approval). Always,
 * except for the offline brain on a team's repository (`MLLEAD_REPO`, not the demo repository) without
 * MLLEAD_OFFLINE_COMMIT=1: its work is the shipped demo pipeline run on synthetic data, which does not belong
 * in the team's history. Both the work's brain and the brain running it must be offline, so a Claude step is
 * always committed (and its review always discarded) whatever the work message says.
 */
export function commitsStep(
  work: Pick<StepWork, "brain">,
  brain: Pick<Brain, "kind">,
  source: Pick<SourceRepo, "kind">,
  offlineCommit: boolean,
): boolean {
  return offlineCommit || source.kind === "demo" || work.brain !== "offline" || brain.kind !== "offline";
}

/**
 * The result of a step that is not committed (see `commitsStep`): the work stays in the task's worktree, the
 * branch where it was (any git metadata the step changed is put back, as before a commit), and the thread is
 * told why and how to commit. No `git` record: there is no commit to show, and "nothing changed" would be false.
 */
export async function uncommittedResult(wt: TaskWorktree, result: StepResult, log: Logger): Promise<StepResult> {
  const { tampered } = await guardWorktree(wt);
  if (tampered.length > 0) log.warn({ tampered }, "the step changed git metadata; put back");
  log.info({ branch: wt.taskBranch }, "offline demo on the team's repository: step not committed");
  const { git: _none, ...rest } = result;
  const note = `${NOT_COMMITTED_PREFIX} on your repository — the work stays uncommitted in the task's worktree, branch ${wt.taskBranch} is unchanged and nothing is pushed; set MLLEAD_OFFLINE_COMMIT=1 to commit`;
  return withWarnings(rest, [note, ...tampered.map(tamperWarning)]);
}
