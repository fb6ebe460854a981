import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SandboxPolicyError } from "./errors.js";
import { resolvePolicy } from "./policy.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-policy-"));
  await mkdir(join(dir, "work", "sub"), { recursive: true });
  await mkdir(join(dir, "other"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (over: object = {}) => ({ workdir: join(dir, "work"), network: false, limits: {}, ...over });

describe("resolvePolicy", () => {
  it("accepts a cwd inside the workdir, relative or absolute", async () => {
    expect((await resolvePolicy(base(), "sub")).cwd).toBe(join(dir, "work", "sub"));
    expect((await resolvePolicy(base(), join(dir, "work"))).cwd).toBe(join(dir, "work"));
  });

  it("refuses a cwd outside the workdir, also through '..' or a symlink", async () => {
    await symlink(join(dir, "other"), join(dir, "work", "escape"));
    for (const cwd of [join(dir, "other"), "../other", "escape", "/"]) {
      await expect(resolvePolicy(base(), cwd), cwd).rejects.toThrow(SandboxPolicyError);
    }
  });

  it("refuses relative or missing paths and a workdir that is a file", async () => {
    await writeFile(join(dir, "file"), "x");
    await expect(resolvePolicy(base({ readOnly: ["data"] }), ".")).rejects.toThrow(/not an absolute path/);
    await expect(resolvePolicy(base({ readWrite: [join(dir, "nope")] }), ".")).rejects.toThrow(/does not exist/);
    await expect(resolvePolicy(base({ workdir: join(dir, "file") }), ".")).rejects.toThrow(/not a directory/);
    await expect(resolvePolicy(base({ devices: ["/etc/passwd"] }), ".")).rejects.toThrow(/not under \/dev/);
  });

  it("refuses limits that are not positive integers", async () => {
    await expect(resolvePolicy(base({ limits: { memoryBytes: 0 } }), ".")).rejects.toMatchObject({ code: "sandbox_policy" });
    await expect(resolvePolicy(base({ limits: { processes: 1.5 } }), ".")).rejects.toThrow(/processes/);
  });

  it("orders binds shallowest first and skips devices the host lacks", async () => {
    const p = await resolvePolicy(
      base({ readOnly: [join(dir, "work", "sub")], readWrite: [join(dir, "other")], devices: ["/dev/null", "/dev/nvidia-none"] }),
      ".",
    );
    expect(p.binds.map((b) => [b.dest, b.mode])).toEqual([
      ["/dev/null", "dev"],
      [join(dir, "work"), "rw"],
      [join(dir, "other"), "rw"],
      [join(dir, "work", "sub"), "ro"],
    ]);
  });
});
