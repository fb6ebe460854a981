import { BUCKET_SPECS, BUCKETS, CONSUMERS, objectStoreSpec, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { createSpecialist } from "./app.js";
import { SpecialistEnv } from "./config.js";

await runService({
  name: "specialist-agent",
  config: SpecialistEnv,
  // Specialists own the GPU job queue (jobs wait there for a runner) and the artifact store; they read
  // step work from the tech lead's stream (checked against its task records) and report on its events stream.
  // Each task's branch travels between replicas as a bundle in the artifact store, its head in `taskBranches`.
  resources: (config) => ({
    owns: {
      streams: [STREAMS.gpu],
      buckets: [{ ...BUCKET_SPECS.taskBranches, ttlSec: objectStoreSpec(config.MLLEAD_ARTIFACT_RETENTION_DAYS).ttlSec }],
      objectStores: [objectStoreSpec(config.MLLEAD_ARTIFACT_RETENTION_DAYS)],
    },
    uses: { streams: [STREAMS.events.name], buckets: [BUCKETS.tasks] },
    consumers: config.MLLEAD_ROLES.map((role) => CONSUMERS.step(role)),
  }),
  create: (ctx) => createSpecialist(ctx),
});
