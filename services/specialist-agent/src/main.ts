import { brainFromConfig, brainKind } from "@mllead/brain";
import { CONSUMERS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { buildApp } from "./app.js";
import { commandBaseEnv, SpecialistEnv, settingsFromEnv } from "./config.js";
import { openStepEnvironment } from "./step-env.js";

await runService({
  name: "specialist-agent",
  config: SpecialistEnv,
  consumers: (config) => config.MLLEAD_ROLES.map((role) => CONSUMERS.step(role)),
  async start({ config, log, bus, registry, shuttingDown }) {
    const brain = await brainFromConfig(config, log);
    log.info({ brain: brainKind(config), roles: config.MLLEAD_ROLES }, "specialists starting");
    const settings = settingsFromEnv(config, commandBaseEnv());
    // The team's repository and the sandbox are opened before any step is taken, so a bad MLLEAD_REPO shows at start.
    const environment = await openStepEnvironment(settings, log);
    const app = buildApp({ bus, brain, settings, log, registry, shuttingDown, environment });
    return app.start();
  },
});
