import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CappedLogFile } from "./job-log.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("CappedLogFile", () => {
  it("writes the full log up to the cap, then a marker", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mllead-log-"));
    try {
      const f = new CappedLogFile(join(dir, "job.log"), 2048);
      for (let i = 0; i < 100; i++) f.write(enc(`${"z".repeat(99)}\n`));
      f.note("ignored after the cap");
      await f.close();
      const text = await readFile(join(dir, "job.log"), "utf8");
      expect(text.startsWith("z".repeat(99))).toBe(true);
      expect(text).toContain("[mllead: log truncated at 2048 bytes]");
      expect(text).not.toContain("ignored after the cap");
      expect(Buffer.byteLength(text)).toBeLessThan(2048 + 100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
