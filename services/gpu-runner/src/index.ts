// What tests and tools use of the runner; the service itself starts from main.ts.
// The heartbeat schema is a contract (the gateway and the scout read it).
export { GpuInfo, RunnerHeartbeat } from "@mllead/contracts";
export { createRunner, type Runner, type RunnerDeps } from "./app.js";
export { JobClaim } from "./claims.js";
export { RunnerConfig } from "./config.js";
export {
  BetterElsewhereError,
  ClaimHeldError,
  MissingInputError,
  PathEscapeError,
  RunnerError,
  RunnerErrorCode,
  UnsafeArchiveError,
} from "./errors.js";
export { type Inventory, type InventoryPort, nvidiaSmiInventory } from "./inventory.js";
