import { hostname } from "node:os";
import { CONSUMERS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { startRunner } from "./app.js";
import { RunnerConfig } from "./config.js";
import { nvidiaSmiInventory } from "./inventory.js";

await runService({
  name: "gpu-runner",
  config: RunnerConfig,
  consumers: () => [CONSUMERS.gpuRunner],
  start: async ({ config, log, bus, registry }) =>
    startRunner({
      bus,
      log,
      registry,
      config,
      host: hostname(),
      // Jobs inherit only allow-listed, non-secret variables from this (see env.ts).
      hostEnv: process.env,
      inventory: nvidiaSmiInventory({ bin: config.MLLEAD_NVIDIA_SMI }),
    }),
});
