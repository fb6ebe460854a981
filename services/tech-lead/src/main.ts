import { brainFromConfig, brainKind } from "@mllead/brain";
import { CONSUMERS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { buildTechLead } from "./app.js";
import { TechLeadConfig } from "./config.js";

await runService({
  name: "tech-lead",
  config: TechLeadConfig,
  consumers: () => [CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults],
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
      policy: {
        approvers: config.MLLEAD_APPROVERS,
        maxReviewRounds: config.MLLEAD_MAX_REVIEW_ROUNDS,
        maxReplans: config.MLLEAD_MAX_REPLANS,
      },
    });
    await lead.start();
    return { stop: () => lead.stop() };
  },
});
