import { hostname } from "node:os";
import { BUCKET_SPECS, BUCKETS, CONSUMERS, OBJECT_STORE, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { startRunner } from "./app.js";
import { RunnerConfig } from "./config.js";
import { nvidiaSmiInventory } from "./inventory.js";

await runService({
  name: "gpu-runner",
  config: RunnerConfig,
  // A runner owns job claims and runner heartbeats; it takes jobs from the specialists' queue (checked
  // against the tech lead's task records), reports on its events stream and stores outputs in the
  // specialists' artifact store.
  resources: () => ({
    owns: { buckets: [BUCKET_SPECS.jobs, BUCKET_SPECS.runners] },
    uses: { streams: [STREAMS.events.name], buckets: [BUCKETS.tasks], objectStores: [OBJECT_STORE] },
    consumers: [CONSUMERS.gpuRunner],
  }),
  start: async ({ config, log, bus, registry }) =>
    startRunner({
      bus,
      log,
      registry,
      config,
      host: hostname(),
      // Jobs get only PATH, HOME, TMPDIR, LANG, LC_* and the MLLEAD_SANDBOX_ENV names of this (see env.ts).
      hostEnv: process.env,
      inventory: nvidiaSmiInventory({ bin: config.MLLEAD_NVIDIA_SMI }),
    }),
});
