/**
 * `@mllead/service-kit/helpers`: the small helpers every package shares — best-effort cleanup, the keyed
 * queue, the zod error formatter and the coded-error factory (`codedError`, `ShuttingDownError`) — without
 * Fastify or NATS, for packages below the services (sandbox, brain, agents). Services get the same names from
 * `@mllead/service-kit`.
 */
export { bestEffort, type DebugLog } from "./best-effort.js";
export { type CodedErrorClass, codedError, type ErrorClass, ShuttingDownError } from "./errors.js";
export { type FormatIssuesOptions, formatIssues } from "./issues.js";
export { KeyedQueue } from "./keyed-queue.js";
