import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gpuDeviceNodes, jobPolicy, readDeviceMinors } from "./job-sandbox.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mllead-job-sandbox-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const A = "GPU-11111111-aaaa-4bbb-8ccc-000000000000";
const B = "GPU-22222222-aaaa-4bbb-8ccc-111111111111";

describe("readDeviceMinors", () => {
  it("maps each GPU's UUID to its device minor from the driver's /proc files", async () => {
    for (const [pci, uuid, minor] of [
      ["0000:17:00.0", A, 1],
      ["0000:65:00.0", B, 0],
    ] as const) {
      await mkdir(join(dir, pci));
      await writeFile(
        join(dir, pci, "information"),
        `Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 123\nGPU UUID: \t ${uuid}\nVideo BIOS: \t 96.00\nBus Location: \t ${pci}\nDevice Minor: \t ${minor}\n`,
      );
    }
    expect(readDeviceMinors(dir)).toEqual(
      new Map([
        [A, 1],
        [B, 0],
      ]),
    );
    expect(readDeviceMinors(join(dir, "missing"))).toEqual(new Map());
  });
});

describe("gpuDeviceNodes", () => {
  const all = new Set(["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]);
  const exists = (p: string) => all.has(p);
  const index = new Map([
    [A, 0],
    [B, 1],
  ]);

  it("gives a GPU job its own GPUs' nodes and the control nodes that exist", () => {
    expect(gpuDeviceNodes([B], index, new Map(), exists)).toEqual(["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]);
  });

  it("trusts the driver's minor over nvidia-smi's index", () => {
    expect(gpuDeviceNodes([A], index, new Map([[A, 1]]), exists)[0]).toBe("/dev/nvidia1");
  });

  it("gives a CPU job no device, and a host without the driver nothing", () => {
    expect(gpuDeviceNodes([], index, new Map(), exists)).toEqual([]);
    expect(gpuDeviceNodes([A], index, new Map(), () => false)).toEqual([]);
  });
});

describe("jobPolicy", () => {
  it("makes work and artifacts writable, data (and for a GPU job /sys) read-only, and limits processes only", () => {
    const p = jobPolicy(
      { dataDirs: ["/data/team"], network: false, maxProcesses: 512 },
      { work: "/jobs/j1/work", artifacts: "/jobs/j1/artifacts" },
      ["/dev/nvidia0"],
    );
    expect(p).toEqual({
      workdir: "/jobs/j1/work",
      readWrite: ["/jobs/j1/artifacts"],
      readOnly: ["/data/team", "/sys"],
      devices: ["/dev/nvidia0"],
      network: false,
      limits: { processes: 512 },
    });
    const cpu = jobPolicy({ dataDirs: [], network: true, maxProcesses: 512 }, { work: "/w", artifacts: "/a" }, []);
    expect(cpu).toMatchObject({ readOnly: [], devices: [], network: true });
  });
});
