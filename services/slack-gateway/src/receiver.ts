import type { IncomingMessage, ServerResponse } from "node:http";
import type { App, BufferedIncomingMessage, Receiver, ReceiverEvent } from "@slack/bolt";
import { HTTPModuleFunctions as bolt, HTTPResponseAck } from "@slack/bolt";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { boltLogger } from "./bolt-logger.js";
import type { InboxMessage } from "./inbox.js";
import { INPUT_LIMITS } from "./slack-fields.js";
import { classifySlackInput, type MlleadContext, type Oversized, withinSignatureWindow } from "./slack-input.js";

export interface FastifyReceiverOptions {
  http: FastifyInstance;
  signingSecret: string;
  log: Logger;
  /** Makes an Events API delivery durable; resolves once it is stored. Slack gets its 200 after that. */
  store: (msg: InboxMessage) => Promise<unknown>;
  /** Default `/slack/events`. */
  path?: string;
  /** Largest body taken, in bytes. Default INPUT_LIMITS.bodyBytes (1 MiB). */
  bodyLimit?: number;
  /** How long (ms) an interaction's listener may take to ack before the receiver answers for it. Default 2800. */
  ackTimeoutMs?: number;
  now?: () => number;
}

const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";
const SORRY = "Sorry, mllead could not handle that just now. Please try again.";

/**
 * A 4xx with a short reason, and no retry: a malformed request does not get better when Slack sends
 * it again. `close` ends the connection too: a body left half-read (too large, aborted) would
 * otherwise stall the next request on that keep-alive connection.
 */
function refuse(res: ServerResponse, status: number, error: string, reason?: string, close = false): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    "content-type": "application/json",
    "x-slack-no-retry": "1",
    ...(close ? { connection: "close" } : {}),
  });
  res.end(JSON.stringify({ ok: false, error, ...(reason ? { reason } : {}) }));
}

function unavailable(res: ServerResponse): void {
  if (res.headersSent) return;
  // No x-slack-no-retry: Slack should send this again once NATS is back.
  res.writeHead(503, { "content-type": "application/json", "retry-after": "5" });
  res.end(JSON.stringify({ ok: false, error: "unavailable", reason: "mllead cannot store requests right now" }));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * A Bolt receiver on the service's own Fastify app (`POST /slack/events` next to /healthz and
 * /metrics), built from Bolt's HTTPReceiver parts: `HTTPModuleFunctions` buffer, verify and parse
 * the request and answer `ssl_check` and `url_verification`; `HTTPResponseAck` times the ack of
 * interactions and slash commands. Two things Bolt does not do are added: a signature timestamp
 * from the future is refused like a stale one, and every body is checked against the shapes
 * mllead reads (slack-input.ts), so malformed input gets a 4xx with a short reason, never a 500.
 *
 * Events API deliveries are stored in the gateway's JetStream inbox and acknowledged as soon as
 * they are durable; Bolt's listeners run later from the inbox, so nothing else is on the ack's path.
 */
export class FastifyReceiver implements Receiver {
  private app: App | undefined;
  private started = false;
  private readonly log: Logger;
  private readonly boltLog: ReturnType<typeof boltLogger>;
  private readonly now: () => number;

  constructor(private readonly opts: FastifyReceiverOptions) {
    this.log = opts.log.child({ component: "slack-http" });
    this.boltLog = boltLogger(this.log);
    this.now = opts.now ?? Date.now;
    const path = opts.path ?? "/slack/events";
    void opts.http.register(async (scope) => {
      // The signature covers the exact bytes: Bolt's bufferIncomingMessage reads the body, not Fastify.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
      // What Fastify refuses before our handler runs (a content-type it cannot even parse) is answered
      // like our own refusals: a short reason, not Fastify's error object.
      scope.setErrorHandler((err: { statusCode?: number }, _req, reply) => {
        const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
        this.log.warn({ status }, "refused a Slack request Fastify could not read");
        return reply
          .code(status)
          .header("x-slack-no-retry", "1")
          .header("connection", "close")
          .send({ ok: false, error: status === 415 ? "unsupported_media_type" : "bad_request" });
      });
      scope.post(path, (req, reply) => {
        reply.hijack();
        return this.handle(req.raw, reply.raw);
      });
    });
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.serve(req, res);
    } catch (err) {
      // A bug of ours, not the request's: logged with the stack, answered without it.
      this.log.error({ err }, "a Slack request could not be handled");
      unavailable(res);
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mediaType = (header(req, "content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (mediaType !== JSON_TYPE && mediaType !== FORM) {
      return refuse(res, 415, "unsupported_media_type", "Slack sends application/json or application/x-www-form-urlencoded");
    }
    // Bolt parses a form only under this exact header; a charset parameter must not turn it into JSON.
    req.headers["content-type"] = mediaType;
    const tsHeader = header(req, "x-slack-request-timestamp");
    // Bolt refuses stale timestamps only; one from the future is refused here too (Slack's window is ±5 min).
    if (tsHeader !== undefined && Number(tsHeader) > this.now() / 1000 + INPUT_LIMITS.signatureWindowSec) {
      this.log.warn({ timestamp: tsHeader }, "refused a request signed with a timestamp from the future");
      return refuse(res, 401, "invalid_signature", "request timestamp is outside Slack's 5-minute window");
    }

    let buffered: BufferedIncomingMessage;
    try {
      buffered = await bolt.parseAndVerifyHTTPRequest(
        { signingSecret: this.opts.signingSecret, bodyLimit: this.opts.bodyLimit ?? INPUT_LIMITS.bodyBytes },
        req,
      );
    } catch (err) {
      if (bolt.isRawBodyError(err)) {
        const status = err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
        const limit = this.opts.bodyLimit ?? INPUT_LIMITS.bodyBytes;
        if (status === 413) return refuse(res, 413, "body_too_large", `bodies over ${limit} bytes are refused`, true);
        return refuse(res, status, "unreadable_body", "the request body could not be read", true);
      }
      this.log.warn({ reason: (err as Error).message }, "refused a request that is not signed by Slack");
      const stale = tsHeader !== undefined && !withinSignatureWindow(Number(tsHeader), this.now());
      return refuse(res, 401, "invalid_signature", stale ? "request timestamp is outside Slack's 5-minute window" : undefined);
    }

    let body: unknown;
    try {
      body = bolt.parseHTTPRequestBody(buffered);
    } catch {
      return refuse(res, 400, "invalid_body", mediaType === FORM ? "payload is not valid JSON" : "body is not valid JSON");
    }
    const input = classifySlackInput(body, mediaType === FORM);
    switch (input.kind) {
      case "ssl_check":
        return bolt.buildSSLCheckResponse(res);
      case "url_verification":
        return bolt.buildUrlVerificationResponse(res, { challenge: input.challenge });
      case "refused":
        this.log.warn({ reason: input.reason }, "refused a malformed Slack request");
        return refuse(res, 400, "invalid_body", input.reason);
      case "ignored":
        this.log.debug({ reason: input.reason }, "acknowledged a Slack request mllead does not use");
        return bolt.buildNoBodyResponse(res, 200);
      case "event":
        return this.storeEvent(req, res, {
          v: 1,
          envelope: input.envelope,
          receivedAt: new Date(this.now()).toISOString(),
          ...this.retryOf(req),
          ...(input.oversized ? { oversized: input.oversized } : {}),
        });
      case "interactive":
        return this.dispatch(buffered, res, input.body, input.oversized);
      default: {
        const never: never = input;
        throw new Error(`unhandled input ${String(never)}`);
      }
    }
  }

  private retryOf(req: IncomingMessage): { retryNum?: number; retryReason?: string } {
    const retryNum = bolt.extractRetryNumFromHTTPRequest(req);
    const retryReason = bolt.extractRetryReasonFromHTTPRequest(req);
    return {
      ...(retryNum !== undefined && Number.isInteger(retryNum) && retryNum >= 0 ? { retryNum } : {}),
      ...(retryReason ? { retryReason: retryReason.slice(0, 64) } : {}),
    };
  }

  /** Events API: durable in the inbox, then 200 (Bolt's ack for events has no body). */
  private async storeEvent(_req: IncomingMessage, res: ServerResponse, msg: InboxMessage): Promise<void> {
    if (!this.started) return unavailable(res);
    try {
      await this.opts.store(msg);
    } catch (err) {
      this.log.error({ err, eventId: msg.envelope.event_id }, "could not store a Slack event; Slack will retry it");
      return unavailable(res);
    }
    bolt.buildContentResponse(res, undefined);
  }

  /** Interactions and slash commands: Bolt's listeners run now, and their ack() is the HTTP answer. */
  private async dispatch(
    req: BufferedIncomingMessage,
    res: ServerResponse,
    body: Record<string, unknown>,
    oversized: Oversized | undefined,
  ): Promise<void> {
    if (!this.app || !this.started) return unavailable(res);
    const isCommand = typeof body.command === "string";
    const fallback = () => bolt.buildContentResponse(res, isCommand ? { response_type: "ephemeral", text: SORRY } : undefined);
    const ack = new HTTPResponseAck({
      logger: this.boltLog,
      processBeforeResponse: false,
      // Slack gives up after 3 s; answer a little before, rather than with Bolt's default 404.
      unhandledRequestTimeoutMillis: this.opts.ackTimeoutMs ?? 2800,
      unhandledRequestHandler: ({ response }) => {
        this.log.error({ kind: body.type ?? body.command }, "a listener did not acknowledge in time");
        if (!response.headersSent) fallback();
      },
      httpRequest: req,
      httpRequestBody: body,
      httpResponse: res,
    });
    const context: MlleadContext = oversized ? { oversized } : {};
    const event: ReceiverEvent = {
      body,
      ack: ack.bind(),
      ...this.retryOf(req),
      customProperties: { mllead: context },
    };
    try {
      await this.app.processEvent(event);
    } catch (err) {
      this.log.error({ err, kind: body.type ?? body.command }, "handling a Slack interaction failed");
    }
    // No listener acknowledged (none matched, or one failed first): acknowledge now rather than after the timeout.
    if (!res.headersSent) {
      ack.ack();
      fallback();
    }
  }
}
