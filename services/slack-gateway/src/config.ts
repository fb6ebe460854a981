import { ConfigError } from "@mllead/service-kit";
import { z } from "zod";

/** The gateway's own variables (merged with the service kit's BaseConfig). */
export const GatewayConfig = z.object({
  SLACK_BOT_TOKEN: z.string().min(1),
  /** Required in HTTP mode: Bolt verifies every request's signature with it. */
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  /** When set, the gateway uses Socket Mode (no public URL) instead of HTTP. */
  SLACK_APP_TOKEN: z.string().startsWith("xapp-", "must be an app-level token (xapp-…)").optional(),
  /** Another Slack API base, e.g. the local sandbox's `http://127.0.0.1:3300/api/`. */
  SLACK_API_URL: z.url().optional(),
  /** Port of the HTTP server that takes `/slack/events` and serves /healthz, /readyz, /metrics. */
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Agent files replacing the project's by name (as the specialists load them): shown by `/mllead agents` and the Home tab. */
  MLLEAD_AGENTS_DIR: z.string().min(1).optional(),
  /**
   * Where Bolt's listeners for stored events and the rendering of task events run: `thread` (default,
   * a worker thread, so they never delay an HTTP ack) or `inline` (on the main event loop).
   */
  GATEWAY_BACKGROUND: z.enum(["thread", "inline"]).optional(),
  /** The gateway's address as people's browsers reach it (`https://mllead.example.com`): artifact links start with it. */
  MLLEAD_PUBLIC_URL: z.url().optional(),
  /** The key artifact links are signed with (HMAC-SHA256); `pnpm start` makes one. Unset: no artifact route. */
  MLLEAD_ARTIFACT_LINK_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /** Hours an artifact link works after the message showing it was drawn. Default 24, at most 2160 (90 days). */
  MLLEAD_ARTIFACT_LINK_TTL_HOURS: z.coerce.number().positive().max(2160).optional(),
});
export type GatewayConfig = z.output<typeof GatewayConfig>;

/** Rules across variables that a per-variable schema cannot say. Throws ConfigError naming the variable. */
export function checkGatewayConfig(config: GatewayConfig): void {
  if (!config.SLACK_APP_TOKEN && !config.SLACK_SIGNING_SECRET) {
    throw new ConfigError(["SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode instead)"]);
  }
  if (config.MLLEAD_PUBLIC_URL && !config.MLLEAD_ARTIFACT_LINK_SECRET) {
    throw new ConfigError([
      "MLLEAD_ARTIFACT_LINK_SECRET is required when MLLEAD_PUBLIC_URL is set (artifact links are signed with it)",
    ]);
  }
}

/** WebClient appends the method name to the base URL, so the base must end with a slash. */
export function slackApiBase(url: string | undefined): string | undefined {
  if (!url) return undefined;
  return url.endsWith("/") ? url : `${url}/`;
}
