import { describe, expect, it } from "vitest";
import { Allocator } from "./allocator.js";

describe("Allocator", () => {
  it("gives free GPUs by UUID and never the same device twice", () => {
    const a = new Allocator(["GPU-a", "GPU-b", "GPU-c"], 1);
    const j1 = a.tryAcquire("j1", 2);
    expect(j1).toEqual({ kind: "granted", allocation: { devices: ["GPU-a", "GPU-b"], cudaVisibleDevices: "GPU-a,GPU-b" } });
    expect(a.tryAcquire("j2", 2)).toEqual({ kind: "busy" });
    expect(a.tryAcquire("j3", 1)).toEqual({ kind: "granted", allocation: { devices: ["GPU-c"], cudaVisibleDevices: "GPU-c" } });
    a.release("j1");
    expect(a.tryAcquire("j2", 2)).toMatchObject({ kind: "granted", allocation: { devices: ["GPU-a", "GPU-b"] } });
  });

  it("refuses a job that wants more GPUs than the host has, with a reason", () => {
    const a = new Allocator(["GPU-a", "GPU-b"], 1);
    expect(a.tryAcquire("j", 3)).toEqual({ kind: "impossible", reason: "the job asks for 3 GPUs but this host has 2" });
  });

  it("runs every job on CPU slots on a host with no GPU, hiding all devices", () => {
    const a = new Allocator([], 2);
    expect(a.tryAcquire("j1", 4)).toEqual({ kind: "granted", allocation: { devices: [], cudaVisibleDevices: "" } });
    expect(a.tryAcquire("j2", 0)).toMatchObject({ kind: "granted" });
    expect(a.tryAcquire("j3", 1)).toEqual({ kind: "busy" });
    a.release("j1");
    a.release("j1"); // twice is harmless
    expect(a.tryAcquire("j3", 1)).toMatchObject({ kind: "granted" });
    expect(a.running().sort()).toEqual(["j2", "j3"]);
  });

  it("makes a waiting job wait until devices free up, then gives them", async () => {
    const a = new Allocator(["GPU-a"], 1);
    a.tryAcquire("j1", 1);
    let got: unknown;
    const waiting = a.acquire("j2", 1).then((r) => {
      got = r;
    });
    await new Promise((r) => setImmediate(r));
    expect(got).toBeUndefined();
    a.release("j1");
    await waiting;
    expect(got).toMatchObject({ kind: "granted", allocation: { devices: ["GPU-a"] } });
  });

  it("stops waiting when aborted", async () => {
    const a = new Allocator(["GPU-a"], 1);
    a.tryAcquire("j1", 1);
    const ctl = new AbortController();
    const waiting = a.acquire("j2", 1, ctl.signal);
    ctl.abort(new Error("shutdown"));
    await expect(waiting).rejects.toThrow("shutdown");
    expect(a.running()).toEqual(["j1"]);
  });

  it("tells onWoken when a waiting job got its devices from a release, and not when they were free at once", async () => {
    const woken: string[] = [];
    const a = new Allocator([], 1, (jobId) => woken.push(jobId));
    await a.acquire("j1", 0);
    const waiting = a.acquire("j2", 0);
    a.release("j1");
    expect(await waiting).toMatchObject({ kind: "granted" });
    expect(woken).toEqual(["j2"]);
  });
});
