#!/usr/bin/env -S npx tsx
/**
 * Runs the Slack sandbox for local use: `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET`, `SLACK_APP_TOKEN`,
 * `SLACK_SANDBOX_PORT` (default 3001) and `SLACK_GATEWAY_URL` (default http://127.0.0.1:3000/slack/events).
 * The gateway must be started with `SLACK_API_URL=<printed apiUrl>` and the same bot token, plus either
 * the same signing secret (HTTP) or the same app token (Socket Mode: events then go over its WebSocket).
 */
import { z } from "zod";
import { startSlackSandbox } from "./index.js";

const Config = z.object({
  SLACK_BOT_TOKEN: z.string().min(1).default("xoxb-sandbox-token"),
  SLACK_SIGNING_SECRET: z.string().min(1).default("sandbox-signing-secret"),
  SLACK_APP_TOKEN: z.string().startsWith("xapp-", "must be an app-level token (xapp-…)").default("xapp-1-A0MLLEAD-1-sandbox"),
  SLACK_SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  SLACK_SANDBOX_HOST: z.string().default("127.0.0.1"),
  SLACK_GATEWAY_URL: z.url().default("http://127.0.0.1:3000/slack/events"),
});

// This entry point is configuration: the one place the sandbox reads the environment.
const parsed = Config.safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")));
if (!parsed.success) {
  process.stderr.write(`slack-sandbox: the environment is not usable\n${z.prettifyError(parsed.error)}\n`);
  process.exit(78);
}
const cfg = parsed.data;
const sandbox = await startSlackSandbox({
  port: cfg.SLACK_SANDBOX_PORT,
  host: cfg.SLACK_SANDBOX_HOST,
  botToken: cfg.SLACK_BOT_TOKEN,
  signingSecret: cfg.SLACK_SIGNING_SECRET,
  appToken: cfg.SLACK_APP_TOKEN,
  gatewayUrl: cfg.SLACK_GATEWAY_URL,
});
process.stdout.write(
  `Slack sandbox: open ${sandbox.url} in a browser\n  SLACK_API_URL=${sandbox.apiUrl}\n` +
    `  events go to ${cfg.SLACK_GATEWAY_URL}, or over Socket Mode once the app connects with SLACK_APP_TOKEN=${sandbox.appToken}\n`,
);
const stop = () => {
  void sandbox.close().then(() => process.exit(0));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
