export { contentTypeFor, getFile, putFile } from "./artifacts.js";
export { Bus, decode } from "./bus.js";
export { connectNats } from "./connection.js";
export type { ConsumeOptions, Consumption, Handler, MessageContext } from "./consume.js";
export {
  ConflictError,
  InvalidMessageError,
  InvalidRecordError,
  InvalidValueError,
  PayloadTooLargeError,
  PoisonMessageError,
} from "./errors.js";
export { formatIssues } from "./issues.js";
export { TypedKv, type TypedKvOptions, type Versioned } from "./kv.js";
export { ensureConsumers, ensureStreams } from "./provision.js";
export { type DeadLetterOptions, SET_ASIDE_HEADERS, type SetAsideMessage } from "./set-aside.js";
