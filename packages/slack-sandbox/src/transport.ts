import { randomBytes } from "node:crypto";
import type { SandboxCore } from "./core.js";
import type { Delivery, EnvelopeType } from "./delivery.js";
import { SandboxError } from "./errors.js";
import { eventCallback, urlVerificationBody } from "./payloads.js";
import { slackSignatureHeaders } from "./signing.js";

/** How a request to the app is signed, and whether it replays a retry. */
export interface SignOptions {
  /** Sign with this secret instead of the real one (a forged request). */
  signingSecret?: string;
  /** Use this request timestamp (seconds) instead of now (a stale request). */
  timestampSec?: number;
  /** Replays a retry the way Slack does. */
  retryNum?: number;
  retryReason?: string;
}

const FORM = "application/x-www-form-urlencoded";

/** A fresh Slack-style id: `Ev…`, `R…`, `challenge-…`. */
export function sandboxId(prefix: string): string {
  return `${prefix}${randomBytes(6).toString("hex").toUpperCase()}`;
}

/** The app's answer as text, and parsed when it says it is JSON (Slack reads an ack's body the same way). */
async function readAnswer(res: Response): Promise<Delivery> {
  const body = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json");
  if (!isJson || !body) return { status: res.status, body, json: undefined, via: "http" };
  try {
    return { status: res.status, body, json: JSON.parse(body), via: "http" };
  } catch (err) {
    throw new SandboxError("bad_answer", `the app answered HTTP ${res.status} with a JSON body that does not parse`, {
      cause: err,
    });
  }
}

/**
 * How Slack's payloads reach the app: an envelope on its Socket Mode connection while it holds one
 * (an unacked event is retried there as Slack does), else a signed HTTP request to its Request URL
 * (`retryEvent` replays Slack's HTTP retry); URL verification is HTTP only.
 */
export class AppTransport {
  private readonly sentEvents = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly core: SandboxCore,
    private readonly opts: { signingSecret: string; gatewayUrl: () => string | undefined },
  ) {}

  /**
   * Sends one payload the way the app takes it: an envelope on its Socket Mode connection, or a
   * signed request (JSON for events, a form for interactions and slash commands). A forged or stale
   * signature is an HTTP-only test, so `signingSecret` / `timestampSec` always go over HTTP.
   */
  send(kind: EnvelopeType, payload: Record<string, unknown>, sign: SignOptions = {}): Promise<Delivery> {
    const forged = sign.signingSecret !== undefined || sign.timestampSec !== undefined;
    if (!forged && this.core.socket.active()) {
      return this.core.socket.deliver(kind, payload, {
        ...(sign.retryNum !== undefined ? { retryAttempt: sign.retryNum } : {}),
        ...(sign.retryReason !== undefined ? { retryReason: sign.retryReason } : {}),
      });
    }
    switch (kind) {
      case "events_api":
        return this.post(JSON.stringify(payload), "application/json", sign);
      case "interactive":
        return this.post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), FORM, sign);
      case "slash_commands":
        return this.post(new URLSearchParams(payload as Record<string, string>).toString(), FORM, sign);
      default: {
        const never: never = kind;
        throw new SandboxError("not_found", `unknown envelope type ${String(never)}`);
      }
    }
  }

  /** Sends a raw body to the app, signed (or deliberately mis-signed). */
  async post(body: string, contentType: string, sign: SignOptions = {}): Promise<Delivery> {
    const url = this.opts.gatewayUrl();
    if (!url) throw new SandboxError("no_app");
    const headers: Record<string, string> = {
      "content-type": contentType,
      ...slackSignatureHeaders(sign.signingSecret ?? this.opts.signingSecret, body, sign.timestampSec),
    };
    if (sign.retryNum !== undefined) {
      headers["x-slack-retry-num"] = String(sign.retryNum);
      headers["x-slack-retry-reason"] = sign.retryReason ?? "http_timeout";
    }
    return readAnswer(await fetch(url, { method: "POST", headers, body }));
  }

  /** Delivers an Events API `event_callback` wrapping `event`. Returns the delivery and its event id. */
  async event(event: Record<string, unknown>, opts: SignOptions & { eventId?: string } = {}) {
    const eventId = opts.eventId ?? sandboxId("Ev");
    const eventTs = (event.event_ts ?? event.ts ?? this.core.store.clock.next()) as string;
    const payload = eventCallback(this.core.bot, event, eventId, eventTs);
    this.sentEvents.set(eventId, payload);
    const delivery = await this.send("events_api", payload, opts);
    return { ...delivery, eventId };
  }

  /** Sends an earlier event again with the same event_id, as Slack does when an ack was late or failed. */
  async retryEvent(eventId: string, retryNum = 1, retryReason = "http_timeout"): Promise<Delivery> {
    const payload = this.sentEvents.get(eventId);
    if (!payload) throw new SandboxError("not_found", `no event ${eventId} was sent`);
    return this.send("events_api", payload, { retryNum, retryReason });
  }

  /** Answers Slack's `url_verification` handshake; returns the app's reply. */
  async urlVerification(challenge = sandboxId("challenge-")): Promise<Delivery & { challenge: string }> {
    return { ...(await this.post(urlVerificationBody(challenge), "application/json")), challenge };
  }
}
