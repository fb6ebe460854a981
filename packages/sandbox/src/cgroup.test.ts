import { access, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CgroupLimiter } from "./cgroup.js";

describe("CgroupLimiter", () => {
  it("makes a run's cgroups with the limits set, and removes them on close", async () => {
    const cg = await CgroupLimiter.detect();
    if (!cg) {
      // No writable cgroup here (read-only /sys/fs/cgroup): the sandbox falls back to rlimits; nothing to make.
      expect(cg).toBeNull();
      return;
    }
    const run = await cg.create({ processes: 33, memoryBytes: 64 * 1024 * 1024 });
    expect(run.procsFiles.length).toBeGreaterThan(0);
    const dirs = run.procsFiles.map((f) => dirname(f));
    const limits = await Promise.all(
      dirs.flatMap((d) =>
        ["pids.max", "memory.max", "memory.limit_in_bytes"].map((f) => readFile(join(d, f), "utf8").catch(() => null)),
      ),
    );
    if (cg.controls.processes) expect(limits).toContain("33\n");
    if (cg.controls.memory) expect(limits).toContain(`${64 * 1024 * 1024}\n`);
    await run.close();
    for (const d of dirs) await expect(access(d)).rejects.toThrow();
  });

  it("makes nothing for a run without process or memory limits", async () => {
    const cg = await CgroupLimiter.detect();
    if (!cg) return;
    const run = await cg.create({});
    expect(run.procsFiles).toEqual([]);
    await run.close();
  });
});
