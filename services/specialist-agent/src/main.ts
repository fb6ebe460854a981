import { brainFromConfig, brainKind } from "@mllead/brain";
import { CONSUMERS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { buildApp } from "./app.js";
import { commandBaseEnv, SpecialistEnv, settingsFromEnv } from "./config.js";

await runService({
  name: "specialist-agent",
  config: SpecialistEnv,
  consumers: (config) => config.MLLEAD_ROLES.map((role) => CONSUMERS.step(role)),
  async start({ config, log, bus, registry, shuttingDown }) {
    const brain = await brainFromConfig(config, log);
    log.info({ brain: brainKind(config), roles: config.MLLEAD_ROLES }, "specialists starting");
    const app = buildApp({ bus, brain, settings: settingsFromEnv(config, commandBaseEnv()), log, registry, shuttingDown });
    return app.start();
  },
});
