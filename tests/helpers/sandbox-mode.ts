import { expect } from "vitest";
import { createSandbox, type Sandbox } from "../../packages/sandbox/src/index.js";

/**
 * True when the run says `MLLEAD_SANDBOX=process`: the only way a test run may go without
 * bubblewrap. Otherwise the sandbox tests require it and fail — they never skip or fall back.
 */
export const PROCESS_SANDBOX_ONLY = process.env.MLLEAD_SANDBOX === "process";

/** What a test says where bubblewrap is required and cannot run. */
export const BWRAP_MISSING = "bubblewrap is missing: install it (apt-get install bubblewrap) or run with MLLEAD_SANDBOX=process";

/**
 * The sandbox the tests run commands in: the host's best (bubblewrap where it runs), or the
 * process sandbox when the run says MLLEAD_SANDBOX=process. Tests that need bubblewrap call
 * `needBubblewrap` first.
 */
export function testSandbox(): Promise<Sandbox> {
  return createSandbox(PROCESS_SANDBOX_ONLY ? { mode: "process" } : {});
}

/**
 * At the start of a test that needs bubblewrap: skips it only when the run says
 * MLLEAD_SANDBOX=process, and otherwise fails it with `BWRAP_MISSING` (and bwrap's own
 * reason) where the sandbox is not bubblewrap.
 */
export function needBubblewrap(sandbox: Sandbox, skip: (note: string) => void): void {
  if (PROCESS_SANDBOX_ONLY) skip("the run says MLLEAD_SANDBOX=process");
  expect(sandbox.kind, `${BWRAP_MISSING}\n${sandbox.warning ?? ""}`).toBe("bubblewrap");
}
