import { brainFromConfig, brainKind } from "@mllead/brain";
import { BUCKETS, CONSUMERS, OBJECT_STORE, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { buildApp } from "./app.js";
import { SpecialistEnv, settingsFromEnv } from "./config.js";
import { openStepEnvironment } from "./step-env.js";

await runService({
  name: "specialist-agent",
  config: SpecialistEnv,
  // Specialists own the GPU job queue (jobs wait there for a runner) and the artifact store; they read
  // step work from the tech lead's stream (checked against its task records) and report on its events stream.
  resources: (config) => ({
    owns: { streams: [STREAMS.gpu], objectStores: [OBJECT_STORE] },
    uses: { streams: [STREAMS.events.name], buckets: [BUCKETS.tasks] },
    consumers: config.MLLEAD_ROLES.map((role) => CONSUMERS.step(role)),
  }),
  async start({ config, log, bus, registry, shuttingDown }) {
    const brain = await brainFromConfig(config, log);
    log.info({ brain: brainKind(config), roles: config.MLLEAD_ROLES }, "specialists starting");
    // Commands get only PATH, HOME, TMPDIR, LANG, LC_* and the MLLEAD_SANDBOX_ENV names of this environment.
    const settings = settingsFromEnv(config, process.env);
    // The team's repository and the sandbox are opened before any step is taken, so a bad MLLEAD_REPO, or
    // MLLEAD_SANDBOX=bubblewrap where bwrap cannot run, stops the service at start with the reason.
    const environment = await openStepEnvironment(settings, log);
    const app = buildApp({ bus, brain, settings, log, registry, shuttingDown, environment });
    return app.start();
  },
});
