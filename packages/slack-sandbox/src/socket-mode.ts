import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Delivery, EnvelopeType, SocketEnvelope } from "./delivery.js";
import {
  ackOf,
  type Connection,
  closeConnection,
  HOST,
  type SocketModeOptions,
  type SocketModeSettings,
  sendJson,
  socketModeSettings,
} from "./socket-connection.js";

/** Slack's WebSocket URL path; `ticket` is single-use and issued by `apps.connections.open`. */
const LINK_PATH = "/link/";
const TICKET_TTL_MS = 60_000;

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
  /** Frames from the app that were not an ack (not JSON, or no `envelope_id`), cut to 200 characters. */
  readonly badFrames: string[] = [];
  private lastClosedAt: number | undefined;
  private serial = 0;
  private closed = false;
  private readonly o: SocketModeSettings;

  constructor(opts: SocketModeOptions) {
    this.o = socketModeSettings(opts);
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
      for (const c of targets) sendJson(c, { type: "disconnect", reason: "warning", debug_info: { host: HOST } });
      await new Promise((r) => setTimeout(r, o.warningMs));
    }
    for (const c of targets) this.refreshOne(c);
  }

  /** Closes every connection and stops taking new ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.pending.values()) resolve(null);
    this.pending.clear();
    await Promise.all([...this.conns.values()].map(closeConnection));
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
    sendJson(conn, {
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
    sendJson(conn, { type: "disconnect", reason: "refresh_requested", debug_info: { host: HOST } });
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

  /** An ack from the app: `{ envelope_id, payload? }`. A frame that is not one is kept in `badFrames`, as Slack would log it. */
  private onAck(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.badFrames.push(text.slice(0, 200));
      return;
    }
    const msg = ackOf(frame);
    if (!msg) {
      this.badFrames.push(text.slice(0, 200));
      return;
    }
    const resolve = this.pending.get(msg.envelope_id);
    if (resolve) {
      this.pending.delete(msg.envelope_id);
      resolve(msg.payload);
      return;
    }
    const late = this.log.find((e) => e.envelope_id === msg.envelope_id);
    if (late) late.lateAck = true;
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
    sendJson(conn, {
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
