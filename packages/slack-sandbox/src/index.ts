/**
 * `@mllead/slack-sandbox`: a local stand-in for Slack that the unmodified Slack SDKs talk to through
 * `slackApiUrl` — the Web API (recording every call, with Slack's limits and errors), Socket Mode,
 * signed events and interactions sent to the app, and a browser UI.
 */
export type { ApiCall, BotIdentity, ResponsePost } from "./core.js";
export type { Delivery, EnvelopeType, SocketEnvelope } from "./delivery.js";
export { encodeMention, type PersonOptions, type SentMessage, type SlashOutcome } from "./driver.js";
export { ApiError, SANDBOX_ERRORS, SandboxError, type SandboxErrorCode, ViewError } from "./errors.js";
export { homeViewProblems } from "./home.js";
export { blockProblems, SLACK_LIMITS } from "./limits.js";
export { type RateLimit, SLACK_LIKE_LIMITS } from "./rate-limit.js";
export { startSlackSandbox } from "./sandbox.js";
export type { SlackSandbox, SlackSandboxOptions } from "./sandbox-types.js";
export { signSlackRequest, slackSignatureHeaders } from "./signing.js";
export type { SocketModeOptions } from "./socket-connection.js";
export type { SandboxChannel, SandboxEphemeral, SandboxFile, SandboxHomeView, SandboxMessage } from "./store.js";
export type { SignOptions } from "./transport.js";
export { type SandboxView, type ViewValues, viewProblems } from "./views.js";
