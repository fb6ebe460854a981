export { BaseConfig, ConfigError, envFlag, envList, loadConfig, natsCredentials } from "./config.js";
export { buildHttpApp, createRegistry, type HealthChecks } from "./http.js";
export { createLogger, scrubSecrets } from "./logger.js";
export { type RunningService, runService, type ServiceContext, type ServiceDefinition } from "./service.js";
