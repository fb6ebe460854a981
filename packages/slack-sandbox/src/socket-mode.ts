import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Delivery } from "./driver.js";

/** What Slack sends over the socket: an Events API callback, an interaction, or a slash command. */
export type EnvelopeType = "events_api" | "interactive" | "slash_commands";

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

interface Connection {
  id: string;
  ws: WebSocket;
  /** Told to reconnect (`refresh_requested`): takes acks, gets no new envelopes. */
  draining: boolean;
  timers: NodeJS.Timeout[];
}

/** Slack's WebSocket URL path; `ticket` is single-use and issued by `apps.connections.open`. */
const LINK_PATH = "/link/";
const TICKET_TTL_MS = 60_000;
const HOST = "applink-sandbox-1";

/**
 * Slack's Socket Mode, server side: `apps.connections.open` hands out a single-use `wss` URL
 * (here `ws://…/link/?ticket=…&app_id=…`); a connection gets `hello` (`num_connections`,
 * `debug_info`, `connection_info`), pings, and envelopes (`events_api`, `interactive`,
 * `slash_commands`) that the app acks with `{ envelope_id, payload? }`. An Events API envelope not
 * acked in time is sent again with `retry_attempt` and `retry_reason: "timeout"`. `refresh` sends
 * `disconnect` (`warning`, then `refresh_requested`) and closes the connection; envelopes wait for
 * the app's new connection, so none is lost.
 */
export class SocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Map<string, number>();
  private readonly conns = new Map<string, Connection>();
  private readonly pending = new Map<string, (payload: Record<string, unknown> | null) => void>();
  private readonly log: SocketEnvelope[] = [];
  private waiters: (() => void)[] = [];
  private lastClosedAt: number | undefined;
  private serial = 0;
  private closed = false;
  private readonly o: Required<Omit<SocketModeOptions, "appId">> & { appId: string };

  constructor(opts: SocketModeOptions) {
    this.o = {
      appId: opts.appId,
      ackTimeoutMs: opts.ackTimeoutMs ?? 3000,
      retryDelaysMs: opts.retryDelaysMs ?? [0, 60_000, 300_000],
      pingIntervalMs: opts.pingIntervalMs ?? 10_000,
      reconnectGraceMs: opts.reconnectGraceMs ?? 30_000,
      closeAfterRefreshMs: opts.closeAfterRefreshMs ?? 10_000,
      connectionTtlMs: opts.connectionTtlMs ?? 18_060_000,
    };
  }

  /** Takes WebSocket upgrades on `server` at Slack's link path; anything else is refused. */
  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? "/", "http://sandbox");
      const ticket = url.searchParams.get("ticket") ?? "";
      const expires = this.tickets.get(ticket);
      this.tickets.delete(ticket);
      if (this.closed || url.pathname !== LINK_PATH || expires === undefined || expires < Date.now()) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
  }

  /** `apps.connections.open`: a fresh single-use URL for one connection. */
  open(baseUrl: string): string {
    const ticket = randomBytes(12).toString("hex");
    this.tickets.set(ticket, Date.now() + TICKET_TTL_MS);
    const ws = baseUrl.replace(/^http/, "ws");
    return `${ws}${LINK_PATH}?ticket=${ticket}&app_id=${encodeURIComponent(this.o.appId)}`;
  }

  /** Whether the app speaks Socket Mode now: it holds a connection, or lost its last one moments ago and is reconnecting. */
  active(): boolean {
    if (this.conns.size > 0) return true;
    return this.lastClosedAt !== undefined && Date.now() - this.lastClosedAt < this.o.reconnectGraceMs;
  }

  /** Open connections' ids, oldest first (a refreshed one stays listed until it closes). */
  connections(): string[] {
    return [...this.conns.keys()];
  }

  /** Every envelope sent so far, retries included, oldest first. */
  envelopes(): SocketEnvelope[] {
    return this.log.map((e) => ({ ...e }));
  }

  /**
   * Sends one envelope and waits for its ack. Events API envelopes are retried as Slack does;
   * the Delivery is the ack (`status` 200, `json` its payload), or 408 when none came in time
   * (503 when the app had no connection to send it on).
   */
  async deliver(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    o: { retryAttempt?: number; retryReason?: string } = {},
  ): Promise<Delivery> {
    const delays = type === "events_api" ? this.o.retryDelaysMs : [];
    let attempt = o.retryAttempt ?? 0;
    let reason = o.retryReason ?? "";
    for (let i = 0; ; i++) {
      const out = await this.attempt(type, payload, attempt, reason);
      if (out.status === 200 || i >= delays.length || this.closed) return out;
      await new Promise((r) => setTimeout(r, delays[i]));
      attempt += 1;
      reason = "timeout";
    }
  }

  /**
   * Tells every open connection to reconnect: `disconnect` with reason `warning` first when
   * `warningMs` > 0, then `refresh_requested`; a connection still open `closeAfterRefreshMs` later is closed.
   */
  async refresh(o: { warningMs?: number } = {}): Promise<void> {
    const targets = [...this.conns.values()].filter((c) => !c.draining);
    if (o.warningMs) {
      for (const c of targets) this.sendJson(c, { type: "disconnect", reason: "warning", debug_info: { host: HOST } });
      await new Promise((r) => setTimeout(r, o.warningMs));
    }
    for (const c of targets) this.refreshOne(c);
  }

  /** Closes every connection and stops taking new ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.pending.values()) resolve(null);
    this.pending.clear();
    // A close handshake first, so the app sees Slack going away rather than a broken connection.
    const conns = [...this.conns.values()];
    await Promise.all(
      conns.map(
        (c) =>
          new Promise<void>((resolve) => {
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
          }),
      ),
    );
    this.conns.clear();
    this.wake();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private accept(ws: WebSocket): void {
    const conn: Connection = { id: `conn-${++this.serial}`, ws, draining: false, timers: [] };
    this.conns.set(conn.id, conn);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.onAck(data.toString());
    });
    ws.on("close", () => this.drop(conn));
    ws.on("error", () => this.drop(conn));
    const ping = setInterval(() => ws.ping(), this.o.pingIntervalMs);
    const ttl = setTimeout(() => this.refreshOne(conn), this.o.connectionTtlMs);
    for (const t of [ping, ttl]) t.unref();
    conn.timers.push(ping, ttl);
    this.sendJson(conn, {
      type: "hello",
      num_connections: this.conns.size,
      debug_info: { host: HOST, build_number: 1, approximate_connection_time: Math.round(this.o.connectionTtlMs / 1000) },
      connection_info: { app_id: this.o.appId },
    });
    this.wake();
  }

  private refreshOne(conn: Connection): void {
    if (conn.draining || !this.conns.has(conn.id)) return;
    conn.draining = true;
    this.sendJson(conn, { type: "disconnect", reason: "refresh_requested", debug_info: { host: HOST } });
    const t = setTimeout(() => conn.ws.terminate(), this.o.closeAfterRefreshMs);
    t.unref();
    conn.timers.push(t);
  }

  private drop(conn: Connection): void {
    if (!this.conns.delete(conn.id)) return;
    for (const t of conn.timers) clearTimeout(t);
    this.lastClosedAt = Date.now();
    this.wake();
  }

  private onAck(text: string): void {
    let msg: { envelope_id?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.envelope_id !== "string") return;
    const payload = msg.payload && typeof msg.payload === "object" ? (msg.payload as Record<string, unknown>) : {};
    const resolve = this.pending.get(msg.envelope_id);
    if (resolve) {
      this.pending.delete(msg.envelope_id);
      resolve(payload);
      return;
    }
    const late = this.log.find((e) => e.envelope_id === msg.envelope_id);
    if (late) late.lateAck = true;
  }

  private sendJson(conn: Connection, body: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(body));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** A connection to send on: the newest one not being refreshed, waiting for the app to reconnect if it must. */
  private async connection(): Promise<Connection | undefined> {
    for (;;) {
      const ready = [...this.conns.values()].filter((c) => !c.draining && c.ws.readyState === c.ws.OPEN);
      if (ready.length) return ready[ready.length - 1];
      if (this.closed) return undefined;
      const since = this.lastClosedAt ?? Date.now();
      const left = since + this.o.reconnectGraceMs - Date.now();
      if (left <= 0 && this.conns.size === 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(50, Math.min(left, 1000)));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private async attempt(type: EnvelopeType, payload: Record<string, unknown>, retryAttempt: number, retryReason: string) {
    const conn = await this.connection();
    if (!conn) return { status: 503, body: "", json: undefined, via: "socket" } satisfies Delivery;
    const envelopeId = randomUUID();
    const record: SocketEnvelope = {
      envelope_id: envelopeId,
      type,
      ...(type === "events_api" ? { retry_attempt: retryAttempt, retry_reason: retryReason } : {}),
      payload,
      connection: conn.id,
    };
    this.log.push(record);
    const acked = new Promise<Record<string, unknown> | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelopeId);
        resolve(null);
      }, this.o.ackTimeoutMs);
      this.pending.set(envelopeId, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    this.sendJson(conn, {
      envelope_id: envelopeId,
      type,
      payload,
      // Slack takes a response payload in the ack where the HTTP answer would carry one.
      accepts_response_payload: type === "slash_commands" || (type === "interactive" && payload.type === "view_submission"),
      ...(type === "events_api" ? { retry_attempt: retryAttempt, retry_reason: retryReason } : {}),
    });
    const ack = await acked;
    if (!ack) return { status: 408, body: "", json: undefined, via: "socket" } satisfies Delivery;
    record.ack = ack;
    const empty = Object.keys(ack).length === 0;
    return {
      status: 200,
      body: empty ? "" : JSON.stringify(ack),
      json: empty ? undefined : ack,
      via: "socket",
    } satisfies Delivery;
  }
}
