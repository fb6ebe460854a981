import type { App, Receiver, ReceiverEvent } from "@slack/bolt";
import { ReceiverMultipleAckError, verifySlackRequest } from "@slack/bolt";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { boltLogger } from "./bolt-logger.js";

export interface FastifyReceiverOptions {
  http: FastifyInstance;
  signingSecret: string;
  log: Logger;
  /** Default `/slack/events`. */
  path?: string;
  /**
   * How long (ms) to wait for the listeners to finish before answering with their ack anyway.
   * Slack gives up after 3 s; default 2500.
   */
  ackWindowMs?: number;
}

function header(req: FastifyRequest, name: string): string {
  const v = req.headers[name];
  return typeof v === "string" ? v : "";
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    const form = new URLSearchParams(raw);
    const payload = form.get("payload");
    // Interactivity sends one JSON `payload` field; slash commands send plain fields.
    return payload !== null ? (JSON.parse(payload) as Record<string, unknown>) : Object.fromEntries(form);
  }
  return JSON.parse(raw) as Record<string, unknown>;
}

function send(reply: FastifyReply, body: unknown): FastifyReply {
  if (body === undefined || body === null || body === "") return reply.code(200).send();
  if (typeof body === "string") return reply.code(200).type("text/plain; charset=utf-8").send(body);
  return reply.code(200).type("application/json").send(JSON.stringify(body));
}

/**
 * A Bolt receiver on the service's own Fastify app: Slack's requests arrive at `POST /slack/events`
 * next to /healthz and /metrics. Signatures are checked with Bolt's `verifySlackRequest` (forged or
 * stale → 401). The answer waits for the listeners (up to `ackWindowMs`), so an Events API request
 * whose handling failed gets a 500 and Slack retries it — the event_id makes the retry harmless.
 */
export class FastifyReceiver implements Receiver {
  private app: App | undefined;
  private started = false;
  private readonly log: Logger;

  constructor(private readonly opts: FastifyReceiverOptions) {
    this.log = opts.log.child({ component: "slack-http" });
    const path = opts.path ?? "/slack/events";
    void opts.http.register(async (scope) => {
      // The signature covers the exact bytes, so this route takes the body unparsed.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
      scope.post(path, (req, reply) => this.handle(req, reply));
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

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const raw = typeof req.body === "string" ? req.body : "";
    const contentType = header(req, "content-type");
    if (contentType.startsWith("application/x-www-form-urlencoded") && new URLSearchParams(raw).get("ssl_check") === "1") {
      return reply.code(200).send();
    }
    try {
      verifySlackRequest({
        signingSecret: this.opts.signingSecret,
        body: raw,
        headers: {
          "x-slack-signature": header(req, "x-slack-signature"),
          "x-slack-request-timestamp": Number(header(req, "x-slack-request-timestamp")),
        },
        logger: boltLogger(this.log),
      });
    } catch (err) {
      this.log.warn({ reason: (err as Error).message, ip: req.ip }, "refused a request that is not signed by Slack");
      return reply.code(401).send({ ok: false, error: "invalid signature" });
    }

    let body: Record<string, unknown>;
    try {
      body = parseBody(raw, contentType);
    } catch {
      return reply.code(400).send({ ok: false, error: "body is not JSON or form data" });
    }
    if (body.type === "url_verification") return reply.code(200).send({ challenge: body.challenge });
    if (!this.app || !this.started) return reply.code(503).send({ ok: false, error: "starting" });

    let acked = false;
    let ackBody: unknown;
    let onAck: () => void = () => undefined;
    const ackedP = new Promise<void>((r) => {
      onAck = r;
    });
    const retryNum = Number(header(req, "x-slack-retry-num"));
    const retryReason = header(req, "x-slack-retry-reason");
    const event: ReceiverEvent = {
      body,
      ...(Number.isFinite(retryNum) && retryNum > 0 ? { retryNum } : {}),
      ...(retryReason ? { retryReason } : {}),
      customProperties: {},
      ack: async (response?: unknown) => {
        if (acked) throw new ReceiverMultipleAckError();
        acked = true;
        ackBody = response;
        onAck();
      },
    };
    const processing = this.app.processEvent(event).then(
      () => null,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    let timer: NodeJS.Timeout | undefined;
    const windowEnd = new Promise<"window">((r) => {
      timer = setTimeout(() => r("window"), this.opts.ackWindowMs ?? 2500);
    });
    const first = await Promise.race([processing, windowEnd]);
    clearTimeout(timer);

    if (first !== "window") {
      if (first === null) return send(reply, ackBody);
      this.log.error({ err: first, kind: body.type }, "handling a Slack request failed");
      // Slack retries an Events API request that fails; the event_id dedupes the retry downstream.
      if (body.type === "event_callback") return reply.code(500).send();
      if (acked) return send(reply, ackBody);
      return send(reply, { response_type: "ephemeral", text: "Sorry, mllead could not handle that just now. Please try again." });
    }
    // Still working: answer with the ack as soon as there is one and let the work finish.
    void processing.then((err) => {
      if (err) this.log.error({ err, kind: body.type }, "handling a Slack request failed after it was acknowledged");
    });
    await Promise.race([ackedP, processing]);
    return send(reply, ackBody);
  }
}
