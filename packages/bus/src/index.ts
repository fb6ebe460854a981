export { contentTypeFor, getFile, putFile } from "./artifacts.js";
export { Bus, decode } from "./bus.js";
export { type ConnectOptions, connectNats, credsFileAuthenticator, type NatsAccess, type NatsCredentials } from "./connection.js";
export type { ConsumeOptions, Consumption, Handler, MessageContext } from "./consume.js";
export {
  ConflictError,
  CredentialsError,
  InvalidMessageError,
  InvalidRecordError,
  InvalidValueError,
  PayloadTooLargeError,
  PoisonMessageError,
  ProvisionError,
} from "./errors.js";
export { formatIssues } from "./issues.js";
export { TypedKv, type TypedKvOptions, type Versioned } from "./kv.js";
export { createNkeyUser, type NkeyUser, nkeyUserFromSeed } from "./nkey-users.js";
export {
  type AwaitOptions,
  awaitStreams,
  ensureConsumers,
  ensureStreams,
  permissionViolation,
  streamInfoOrNull,
} from "./provision.js";
export { type DeadLetterOptions, SET_ASIDE_HEADERS, type SetAsideMessage } from "./set-aside.js";
