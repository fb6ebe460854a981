import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { z } from "zod";
import { decode } from "./codec.js";
import { InvalidMessageError } from "./errors.js";
import { consuming, producing } from "./tracing.js";

const TEXT = new TextEncoder();

/** What a request/reply server is: its subject, both schemas, the handler and the answer to an invalid request. */
export interface ServerSpec<Q extends z.ZodType, R extends z.ZodType> {
  subject: string;
  requestSchema: Q;
  replySchema: R;
  handler: (req: z.output<Q>) => Promise<z.input<R>>;
  onInvalid: (err: InvalidMessageError) => z.input<R>;
}

/**
 * Why not `@nats-io/services` (the micro-services protocol with `$SRV` discovery and stats): only pre-releases of
 * it are published (3.0.0-25 is the newest), and a pre-release is not a dependency we ship. These ~60 lines answer
 * the same request/reply with a queue group; move to it when it has a release.
 *
 * Subscribes a request/reply server (queue group = subject, so replicas share the load). An invalid request
 * gets `onInvalid`'s reply; a handler that throws is logged and the requester times out.
 */
export function subscribeServer<Q extends z.ZodType, R extends z.ZodType>(
  nc: NatsConnection,
  log: Logger,
  spec: ServerSpec<Q, R>,
): Subscription {
  const { subject } = spec;
  const answer = async (data: Uint8Array): Promise<Uint8Array> => {
    let reply: z.input<R>;
    try {
      reply = await spec.handler(decode(subject, data, spec.requestSchema));
    } catch (e) {
      if (!(e instanceof InvalidMessageError)) throw e;
      log.warn({ err: e }, "invalid request");
      reply = spec.onInvalid(e);
    }
    return TEXT.encode(JSON.stringify(spec.replySchema.parse(reply)));
  };
  return nc.subscribe(subject, {
    queue: subject,
    callback: (err, msg) => {
      if (err) {
        log.error({ err, subject }, "subscription error");
        return;
      }
      consuming({ subject, headers: msg.headers, data: msg.data }, "serve", () => answer(msg.data))
        .then((reply) => msg.respond(reply))
        .catch((e: unknown) => log.error({ err: e, subject }, "request handler failed"));
    },
  });
}

/** Sends a validated request and validates the reply. */
export async function requestReply<Q extends z.ZodType, R extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schemas: { request: Q; reply: R },
  payload: z.input<Q>,
  timeoutMs: number,
): Promise<z.output<R>> {
  const data = TEXT.encode(JSON.stringify(schemas.request.parse(payload)));
  const m = await producing(subject, { name: "request", size: data.length }, (headers) =>
    nc.request(subject, data, { timeout: timeoutMs, ...(headers ? { headers } : {}) }),
  );
  return decode(subject, m.data, schemas.reply);
}
