/**
 * The tech lead's decisions as pure functions: each takes a stored task and an
 * input and returns the next task, with what must be published appended to its
 * outbox. Nothing here does I/O, so every rule is unit-tested directly.
 */
export { applyDecision, applyPlan, createTask, needsPlan } from "./decisions.js";
export { applyStepEvent, completeTask, dispatchReady, needsSummary } from "./execution.js";
export { failTask, type Policy } from "./task-draft.js";
