import { createHmac } from "node:crypto";

/** Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` keyed by the signing secret. */
export function signSlackRequest(signingSecret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestampSec}:${body}`).digest("hex")}`;
}

/** The headers Slack sends with every request to an app: signature and timestamp (seconds). */
export function slackSignatureHeaders(signingSecret: string, body: string, nowSec = Math.floor(Date.now() / 1000)) {
  return {
    "x-slack-request-timestamp": String(nowSec),
    "x-slack-signature": signSlackRequest(signingSecret, nowSec, body),
  };
}
