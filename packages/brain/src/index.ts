export type { Brain, CommandResult, GpuJobSpec, PlanRequest, StepTools, SummaryRequest } from "./types.js";
