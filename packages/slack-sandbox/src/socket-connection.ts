import type { WebSocket } from "ws";

/** The host `hello` and `disconnect` name in their `debug_info`. */
export const HOST = "applink-sandbox-1";

/** Socket Mode timing; Slack's by default. */
export interface SocketModeOptions {
  appId: string;
  /** How long (ms) the app has to ack an envelope. Default 3000, as Slack. */
  ackTimeoutMs?: number;
  /**
   * Waits (ms) before each retry of an Events API envelope that was not acked: Slack retries three
   * times, at once, after about a minute and after about five. Interactions and slash commands are
   * never retried (the person sees an error instead). Default `[0, 60_000, 300_000]`.
   */
  retryDelaysMs?: readonly number[];
  /** How often (ms) the sandbox pings each connection. Default 10_000. */
  pingIntervalMs?: number;
  /** How long (ms) envelopes wait for the app to reconnect after its last connection closed. Default 30_000. */
  reconnectGraceMs?: number;
  /** How long (ms) a refreshed connection may stay open after `refresh_requested` before it is closed. Default 10_000. */
  closeAfterRefreshMs?: number;
  /** A connection's life (ms) before the sandbox refreshes it, as `hello` announces. Default about 5 hours, as Slack's. */
  connectionTtlMs?: number;
}

/** One WebSocket the app opened. */
export interface Connection {
  id: string;
  ws: WebSocket;
  /** Told to reconnect (`refresh_requested`): takes acks, gets no new envelopes. */
  draining: boolean;
  timers: NodeJS.Timeout[];
}

/** SocketModeOptions with every default filled in. */
export type SocketModeSettings = Required<Omit<SocketModeOptions, "appId">> & { appId: string };

/** Fills in Slack's timing where `opts` leaves it out. */
export function socketModeSettings(opts: SocketModeOptions): SocketModeSettings {
  return {
    appId: opts.appId,
    ackTimeoutMs: opts.ackTimeoutMs ?? 3000,
    retryDelaysMs: opts.retryDelaysMs ?? [0, 60_000, 300_000],
    pingIntervalMs: opts.pingIntervalMs ?? 10_000,
    reconnectGraceMs: opts.reconnectGraceMs ?? 30_000,
    closeAfterRefreshMs: opts.closeAfterRefreshMs ?? 10_000,
    connectionTtlMs: opts.connectionTtlMs ?? 18_060_000,
  };
}

/** Sends one JSON frame while the connection is open (a closing one gets nothing). */
export function sendJson(conn: Connection, body: unknown): void {
  if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(body));
}

/** Closes one connection with a close handshake, so the app sees Slack going away rather than a broken connection. */
export function closeConnection(c: Connection): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const t of c.timers) clearTimeout(t);
    if (c.ws.readyState === c.ws.CLOSED) return resolve();
    const t = setTimeout(() => {
      c.ws.terminate();
      resolve();
    }, 500);
    c.ws.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    if (c.ws.readyState === c.ws.OPEN) c.ws.close(1001, "going away");
  });
}

/** The ack a parsed frame is, or null when it has no string `envelope_id`. */
export function ackOf(frame: unknown): { envelope_id: string; payload: Record<string, unknown> } | null {
  const msg = frame as { envelope_id?: unknown; payload?: unknown } | null;
  if (typeof msg?.envelope_id !== "string") return null;
  const payload = msg.payload && typeof msg.payload === "object" ? (msg.payload as Record<string, unknown>) : {};
  return { envelope_id: msg.envelope_id, payload };
}
