export { contentTypeFor, getFile, putFile } from "./artifacts.js";
export { Bus, type BusSubscription, type ConsumerState, type StreamState } from "./bus.js";
export { decode } from "./codec.js";
export {
  type BusOptions,
  type ConnectOptions,
  connectNats,
  credsFileAuthenticator,
  type NatsAccess,
  type NatsCredentials,
} from "./connection.js";
export type { ConsumeOptions, Consumption, Handler, MessageContext } from "./consume.js";
export {
  BusError,
  BusErrorCode,
  ConflictError,
  CredentialsError,
  InvalidMessageError,
  InvalidRecordError,
  InvalidValueError,
  PayloadTooLargeError,
  PoisonMessageError,
  ProvisionError,
} from "./errors.js";
export { TypedKv, type TypedKvOptions, type Versioned } from "./kv.js";
export { isTransientNatsError, permissionViolation, whileTransient } from "./nats-errors.js";
export { createNkeyUser, type NkeyUser, nkeyUserFromSeed } from "./nkey-users.js";
export type { ObjectRead } from "./object-reader.js";
export { type DeadLetterOptions, SET_ASIDE_HEADERS, type SetAsideMessage } from "./set-aside.js";
export type { BucketSpec, ConsumerSpec, ObjectStoreSpec, ServiceResources, StreamSpec } from "./specs.js";
export type { StoredMessage } from "./stored-messages.js";
export { currentTrace, inSpan, MESSAGING, markFailed, type TraceCarrier, withTrace } from "./tracing.js";
export type { WaitOptions } from "./wait-last.js";
