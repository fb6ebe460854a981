/**
 * Raw NATS access for tests (`@mllead/bus/testing`): what a test needs to speak to the server past the Bus's
 * typed methods (a forged or invalid message, a call a NATS user must be refused). Never imported by product code.
 */
import { type KV, Kvm } from "@nats-io/kv";
import { errors } from "@nats-io/transport-node";
import { type Bus, rawNatsOf } from "./bus.js";

export { type RawNats, rawNatsOf as rawNats } from "./bus.js";

/** A KV bucket as nats.js opens it, with no schema: to write what a typed bucket would refuse. */
export async function rawKv(bus: Bus, bucket: string): Promise<KV> {
  return new Kvm(rawNatsOf(bus).nc).open(bucket);
}

/** The error nats.js throws when a request gets no answer in time (as while a cluster elects a leader). */
export function natsTimeoutError(): Error {
  return new errors.TimeoutError();
}
