// Test doubles for the brain's ports: `StepTools` over a local directory and local processes.
export { createLocalTools, type LocalTools } from "./local-tools.js";
