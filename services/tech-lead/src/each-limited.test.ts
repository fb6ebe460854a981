import { describe, expect, it } from "vitest";
import { eachLimited } from "./each-limited.js";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe("eachLimited", () => {
  it("never runs more than the limit at once and visits every item", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await tick();
      seen.push(n);
      running -= 1;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
