export { bestEffort, type DebugLog } from "./best-effort.js";
export { BaseConfig, ConfigError, envFlag, envList, loadConfig, natsCredentials } from "./config.js";
export { type CodedErrorClass, codedError, type ErrorClass, ShuttingDownError } from "./errors.js";
export { buildHttpApp, createRegistry, type HealthChecks } from "./http.js";
export { type FormatIssuesOptions, formatIssues } from "./issues.js";
export { KeyedQueue } from "./keyed-queue.js";
export { createLogger, scrubSecrets } from "./logger.js";
export { type RunningService, runService, type ServiceContext, type ServiceDefinition } from "./service.js";
export { startTracing, type Tracing, type TracingConfig, tracesUrl } from "./tracing.js";
