export { createLocalTools, type LocalJobRecord, type LocalTools, type LocalToolsOptions } from "./local-tools.js";
