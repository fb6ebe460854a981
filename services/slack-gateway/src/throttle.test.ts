import { describe, expect, it } from "vitest";
import { KeyedThrottle } from "./throttle.js";

describe("job update throttle", () => {
  it("shows the newest progress after a burst and always lands the final state last", async () => {
    let clock = 0;
    const shown: string[] = [];
    const throttle = new KeyedThrottle(
      50,
      () => undefined,
      () => clock,
    );
    const show = (s: string) => async () => {
      shown.push(s);
    };
    await throttle.run("job", show("p1"));
    clock = 10;
    await throttle.run("job", show("p2"));
    await throttle.run("job", show("p3"));
    expect(shown).toEqual(["p1"]);
    clock = 60;
    await new Promise((r) => setTimeout(r, 80));
    // The burst collapsed into one trailing update with the newest progress.
    expect(shown).toEqual(["p1", "p3"]);
    clock = 70;
    await throttle.run("job", show("p4"));
    await throttle.run("job", show("final"), { final: true });
    await new Promise((r) => setTimeout(r, 80));
    expect(shown).toEqual(["p1", "p3", "final"]);
    await throttle.close();
  });

  it("keeps jobs independent", async () => {
    const shown: string[] = [];
    const throttle = new KeyedThrottle(10_000, () => undefined);
    await throttle.run("a", async () => void shown.push("a1"));
    await throttle.run("b", async () => void shown.push("b1"));
    await throttle.run("a", async () => void shown.push("a2"));
    expect(shown).toEqual(["a1", "b1"]);
    await throttle.close();
    expect(shown).toEqual(["a1", "b1"]);
  });
});
