export { contentTypeFor, getFile, putFile } from "./artifacts.js";
export { Bus, type ConsumeOptions, type Consumption, decode, type Handler, type MessageContext } from "./bus.js";
export { connectNats } from "./connection.js";
export { ConflictError, InvalidMessageError, PoisonMessageError } from "./errors.js";
export { TypedKv, type Versioned } from "./kv.js";
export { ensureConsumers, ensureStreams } from "./provision.js";
