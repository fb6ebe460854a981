import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nvidiaSmiInventory, parseNvidiaSmiCsv } from "./inventory.js";

const fixture = (name: string) => readFile(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

describe("parseNvidiaSmiCsv", () => {
  it("reads nothing from empty output (no GPUs)", () => {
    expect(parseNvidiaSmiCsv("")).toEqual([]);
    expect(parseNvidiaSmiCsv("\n")).toEqual([]);
  });

  it("reads one H100", async () => {
    expect(parseNvidiaSmiCsv(await fixture("nvidia-smi-1gpu.csv"))).toEqual([
      {
        index: 0,
        uuid: "GPU-5e1c2b3a-6f0d-4c1e-9a8b-0c3d2e1f4a5b",
        name: "NVIDIA H100 80GB HBM3",
        memoryTotalMiB: 81559,
        memoryUsedMiB: 1,
        utilizationPct: 0,
      },
    ]);
  });

  it("reads eight A100s in index order with their load", async () => {
    const gpus = parseNvidiaSmiCsv(await fixture("nvidia-smi-8gpu.csv"));
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus[4]).toMatchObject({ name: "NVIDIA A100-SXM4-80GB", memoryUsedMiB: 78001, utilizationPct: 100 });
  });

  it("keeps N/A values as null, a comma in a name, and skips junk lines", () => {
    const text = [
      "0, GPU-aaa, NVIDIA GeForce RTX 3090, 24576, 1024, [N/A]",
      "1, GPU-bbb, Tesla T4, rev, b, 15360, [Not Supported], 3",
      "No devices were found",
      "x, GPU-ccc, Broken, 1, 2, 3",
    ].join("\r\n");
    expect(parseNvidiaSmiCsv(text)).toEqual([
      {
        index: 0,
        uuid: "GPU-aaa",
        name: "NVIDIA GeForce RTX 3090",
        memoryTotalMiB: 24576,
        memoryUsedMiB: 1024,
        utilizationPct: null,
      },
      { index: 1, uuid: "GPU-bbb", name: "Tesla T4, rev, b", memoryTotalMiB: 15360, memoryUsedMiB: null, utilizationPct: 3 },
    ]);
  });
});

describe("nvidiaSmiInventory (real subprocesses)", () => {
  let dir: string;
  const script = async (name: string, body: string) => {
    const p = join(dir, name);
    await writeFile(p, `#!/bin/sh\n${body}\n`);
    await chmod(p, 0o755);
    return p;
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mllead-smi-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the GPUs a working nvidia-smi prints, given the right query", async () => {
    const csv = await fixture("nvidia-smi-8gpu.csv");
    const bin = await script(
      "smi-ok",
      `[ "$1" = "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu" ] || exit 2\n[ "$2" = "--format=csv,noheader,nounits" ] || exit 2\ncat <<'CSV'\n${csv}CSV`,
    );
    const inv = await nvidiaSmiInventory({ bin }).read();
    expect(inv.cpuOnlyReason).toBeUndefined();
    expect(inv.gpus).toHaveLength(8);
  });

  it("treats a driver that cannot be reached as a CPU-only host, with the reason", async () => {
    const bin = await script(
      "smi-fail",
      'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9',
    );
    const inv = await nvidiaSmiInventory({ bin }).read();
    expect(inv.gpus).toEqual([]);
    expect(inv.cpuOnlyReason).toContain("couldn't communicate with the NVIDIA driver");
  });

  it("treats 'No devices were found' and a missing binary as CPU-only hosts", async () => {
    const none = await script("smi-none", "echo 'No devices were found'; exit 6");
    expect((await nvidiaSmiInventory({ bin: none }).read()).cpuOnlyReason).toContain("No devices were found");
    const missing = await nvidiaSmiInventory({ bin: join(dir, "does-not-exist") }).read();
    expect(missing).toEqual({ gpus: [], cpuOnlyReason: `${join(dir, "does-not-exist")} not found` });
  });
});
