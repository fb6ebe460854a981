import { BUCKET_SPECS, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { createTechLead, techLeadConsumers } from "./app.js";
import { TechLeadConfig } from "./config.js";

await runService({
  name: "tech-lead",
  config: TechLeadConfig,
  // The tech lead owns the task pipeline: commands, step work, task events, dead letters and task state.
  resources: (config) => ({
    owns: {
      streams: [STREAMS.commands, STREAMS.steps, STREAMS.events, STREAMS.deadLetters],
      buckets: [BUCKET_SPECS.tasks, BUCKET_SPECS.tasksQuarantine, BUCKET_SPECS.lessons],
    },
    consumers: techLeadConsumers(config.MLLEAD_TECH_LEAD_CONCURRENCY),
  }),
  create: (ctx) => createTechLead(ctx),
});
