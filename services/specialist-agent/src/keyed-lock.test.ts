import { describe, expect, it } from "vitest";
import { KeyedLock } from "./keyed-lock.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("KeyedLock", () => {
  it("runs sections with one key one at a time, in order, and other keys alongside", async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const section = (key: string, name: string, ms: number) =>
      lock.run(key, async () => {
        events.push(`start ${name}`);
        await tick(ms);
        events.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([section("a", "a1", 20), section("a", "a2", 1), section("b", "b1", 5)]);
    expect(results).toEqual(["a1", "a2", "b1"]);
    expect(events.indexOf("end a1")).toBeLessThan(events.indexOf("start a2"));
    expect(events.indexOf("start b1")).toBeLessThan(events.indexOf("end a1"));
    expect(lock.size).toBe(0);
  });

  it("keeps going after a section throws", async () => {
    const lock = new KeyedLock();
    const failed = lock.run("a", async () => {
      throw new Error("boom");
    });
    const next = lock.run("a", async () => "ok");
    await expect(failed).rejects.toThrow("boom");
    await expect(next).resolves.toBe("ok");
    expect(lock.size).toBe(0);
  });
});
