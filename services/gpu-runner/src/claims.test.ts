import { describe, expect, it } from "vitest";
import { decideClaim, type JobClaim } from "./claims.js";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const claim = (over: Partial<JobClaim>): JobClaim => ({
  jobId: "j1",
  runnerId: "other",
  host: "h",
  state: "running",
  run: 1,
  leaseAt: new Date(NOW - 5000).toISOString(),
  ...over,
});
const me = { runnerId: "me", runningHere: false };

describe("decideClaim", () => {
  it("creates a claim for a job nobody claimed", () => {
    expect(decideClaim(null, me, NOW, 30_000)).toEqual({ kind: "create" });
  });

  it("leaves a job to the live runner holding it", () => {
    expect(decideClaim(claim({}), me, NOW, 30_000)).toEqual({ kind: "wait", holder: "other" });
  });

  it("takes over a job whose holder stopped renewing its lease", () => {
    const stale = claim({ leaseAt: new Date(NOW - 60_000).toISOString() });
    expect(decideClaim(stale, me, NOW, 30_000)).toEqual({ kind: "take", why: "stale" });
  });

  it("runs its own interrupted job again after a restart, but not one it is running now", () => {
    const mine = claim({ runnerId: "me" });
    expect(decideClaim(mine, me, NOW, 30_000)).toEqual({ kind: "take", why: "own_interrupted" });
    expect(decideClaim(mine, { runnerId: "me", runningHere: true }, NOW, 30_000)).toEqual({ kind: "wait", holder: "me" });
  });

  it("takes a released job and re-publishes a finished one", () => {
    expect(decideClaim(claim({ state: "released" }), me, NOW, 30_000)).toEqual({ kind: "take", why: "released" });
    const result = {
      outcome: "succeeded" as const,
      exitCode: 0,
      signal: null,
      durationMs: 1,
      metrics: {},
      artifacts: [],
      logTail: [],
      host: "h",
    };
    expect(decideClaim(claim({ state: "finished", result }), me, NOW, 30_000)).toEqual({ kind: "finished", result });
  });
});
