import { BUCKET_SPECS, BUCKETS, CONSUMERS, OBJECT_STORE, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { createRunner } from "./app.js";
import { RunnerConfig } from "./config.js";

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
  // Jobs get only PATH, HOME, TMPDIR, LANG, LC_* and the MLLEAD_SANDBOX_ENV names of ctx.env (see env.ts).
  create: (ctx) => createRunner(ctx),
});
