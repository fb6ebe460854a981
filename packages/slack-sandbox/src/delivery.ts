/** What Slack sends over the socket: an Events API callback, an interaction, or a slash command. */
export type EnvelopeType = "events_api" | "interactive" | "slash_commands";

/** What the app answered to one request Slack sent it. */
export interface Delivery {
  status: number;
  /** The response body as text (the app's ack). */
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
  /** How it reached the app: a signed HTTP request, or an envelope over a Socket Mode connection. */
  via?: "http" | "socket";
}

/** One envelope the sandbox sent over Socket Mode, and what became of it. */
export interface SocketEnvelope {
  envelope_id: string;
  type: EnvelopeType;
  /** Events API only: 0 for the first delivery, then 1, 2, 3 for Slack's retries. */
  retry_attempt?: number;
  retry_reason?: string;
  payload: Record<string, unknown>;
  /** The connection it went out on (ids as `connections()` lists them). */
  connection: string;
  /** The ack's payload once the app acknowledged the envelope in time. */
  ack?: Record<string, unknown>;
  /** An ack that came after the sandbox gave up waiting for it. */
  lateAck?: boolean;
}
