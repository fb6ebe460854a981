// Content types and the sandbox live in @mllead/bus and @mllead/sandbox; re-exported so this API is unchanged.
export { contentTypeFor } from "@mllead/bus";
export { type ProcessOutcome, type ProcessRunner, type ProcessSpec, runProcess } from "@mllead/sandbox";
export { type Allocation, type AllocationResult, Allocator } from "./allocator.js";
export { BetterElsewhereError, type Runner, type RunnerDeps, ShuttingDownError, startRunner } from "./app.js";
export { artifactObjectName, readMetrics } from "./artifacts.js";
export { type ClaimDecision, ClaimHeldError, decideClaim, JobClaim } from "./claims.js";
export { RunnerConfig } from "./config.js";
export { buildJobEnv, isReservedJobEnvName } from "./env.js";
export { RunnerHeartbeat } from "./heartbeat.js";
export {
  GpuInfo,
  type Inventory,
  type InventoryPort,
  NVIDIA_SMI_ARGS,
  nvidiaSmiInventory,
  parseNvidiaSmiCsv,
} from "./inventory.js";
export { LineSplitter, LogTail } from "./log-tail.js";
export { type ParsedLine, ProgressThrottle, parseOutputLine } from "./progress.js";
