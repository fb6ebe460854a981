import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readMetrics } from "./artifacts.js";

const log = pino({ level: "silent" });

describe("readMetrics", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "mllead-metrics-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("keeps the numbers of a flat object; a missing file is no metrics", async () => {
    await writeFile(join(dir, "metrics.json"), JSON.stringify({ loss: 0.5, name: "x", acc: 0.9 }));
    expect(await readMetrics(join(dir, "metrics.json"), log)).toEqual({ loss: 0.5, acc: 0.9 });
    expect(await readMetrics(join(dir, "none.json"), log)).toEqual({});
  });

  // Attack: the job leaves a FIFO (or a directory, or a link to a host file) where metrics.json goes. Reading a
  // FIFO blocks until someone writes, so the runner would hang on a finished job forever.
  it("ignores a metrics.json that is a FIFO, a directory or a symbolic link, without blocking", async () => {
    const fifo = join(dir, "fifo", "metrics.json");
    await mkdir(join(dir, "fifo"));
    execFileSync("mkfifo", [fifo]);
    expect(await readMetrics(fifo, log)).toEqual({});
    await mkdir(join(dir, "dir", "metrics.json"), { recursive: true });
    expect(await readMetrics(join(dir, "dir", "metrics.json"), log)).toEqual({});
    await writeFile(join(dir, "host.json"), JSON.stringify({ secret: 42 }));
    await mkdir(join(dir, "link"));
    await symlink(join(dir, "host.json"), join(dir, "link", "metrics.json"));
    expect(await readMetrics(join(dir, "link", "metrics.json"), log)).toEqual({});
  });
});
