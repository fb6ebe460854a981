import { isRetryableStepError } from "@mllead/brain";
import { ShuttingDownError } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import {
  GitBusyError,
  GitError,
  GitPushError,
  InfrastructureError,
  infra,
  isRetryable,
  RetryableError,
  StepToolError,
  stepShuttingDown,
  WorktreeTooLargeError,
} from "./errors.js";

describe("the specialist's error table", () => {
  it("keeps each class's base, code and name, and a git error's fields", () => {
    const push = new GitPushError("rejected", ["push", "origin"], 1, "denied");
    expect(push).toBeInstanceOf(GitError);
    expect([push.code, push.name, push.args, push.exitCode, push.stderr]).toEqual([
      "git_push_failed",
      "GitPushError",
      ["push", "origin"],
      1,
      "denied",
    ]);
    const big = new WorktreeTooLargeError("too large");
    expect(big).toBeInstanceOf(StepToolError);
    expect([big.code, big.name]).toEqual(["worktree_too_large", "WorktreeTooLargeError"]);
    expect(new GitBusyError("locked")).toBeInstanceOf(RetryableError);
  });

  it("treats service-kit's ShuttingDownError as retryable, and lets infra() pass it on unwrapped", async () => {
    expect(isRetryable(new ShuttingDownError("stopping"))).toBe(true);
    expect(isRetryable(new Error("x", { cause: new ShuttingDownError("stopping") }))).toBe(true);
    expect(isRetryable(new StepToolError("bad input"))).toBe(false);
    const stopping = new ShuttingDownError("stopping");
    await expect(infra("publishing", () => Promise.reject(stopping))).rejects.toBe(stopping);
    const down = await infra("publishing", () => Promise.reject(new Error("no responders"))).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(InfrastructureError);
    expect(isRetryable(down)).toBe(true);
  });

  it("stepShuttingDown is a ShuttingDownError that also halts the brain's tool loop", () => {
    const err = stepShuttingDown("stopped waiting for GPU job j1: shutting down");
    expect(err).toBeInstanceOf(ShuttingDownError);
    expect([err.code, err.message]).toEqual(["shutting_down", "stopped waiting for GPU job j1: shutting down"]);
    expect(isRetryableStepError(err)).toBe(true);
    expect(isRetryable(err)).toBe(true);
  });
});
