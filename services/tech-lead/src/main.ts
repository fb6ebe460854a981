import { brainFromConfig, brainKind } from "@mllead/brain";
import { BUCKET_SPECS, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { buildTechLead, techLeadConsumers } from "./app.js";
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
  async start({ config, bus, log, registry }) {
    const brain = await brainFromConfig(config, log);
    log.info(
      { brain: brainKind(config) },
      brain.kind === "offline" ? "offline brain: deterministic plans, no Claude key needed" : "Claude brain",
    );
    const lead = await buildTechLead({
      bus,
      brain,
      log,
      registry,
      concurrency: config.MLLEAD_TECH_LEAD_CONCURRENCY,
      setAsideAfter: config.MLLEAD_SET_ASIDE_AFTER,
      policy: {
        approvers: config.MLLEAD_APPROVERS,
        maxReviewRounds: config.MLLEAD_MAX_REVIEW_ROUNDS,
        maxReplans: config.MLLEAD_MAX_REPLANS,
        taskBudgetUsd: config.MLLEAD_TASK_BUDGET_USD,
      },
    });
    await lead.start();
    return { stop: () => lead.stop() };
  },
});
