import type { CommandResult, StepTools } from "../types.js";
import type { BashInput } from "./schemas.js";

/** Characters of a command's output the model sees (Claude Code's limit), the tail kept. */
const MAX_OUTPUT = 30_000;
const DEFAULT_TIMEOUT_MS = 300_000;

function clip(text: string): string {
  return text.length > MAX_OUTPUT ? `… [${text.length - MAX_OUTPUT} characters cut]\n${text.slice(-MAX_OUTPUT)}` : text;
}

/** A command's result as the model reads it: output, then how it ended. */
function formatCommandResult(r: CommandResult): string {
  const parts = [r.stdout.trimEnd(), r.stderr.trimEnd() ? `[stderr]\n${r.stderr.trimEnd()}` : ""].filter(Boolean);
  const end = r.timedOut ? "timed out and was stopped" : `exit code ${r.exitCode ?? "none (killed by a signal)"}`;
  return clip(`${parts.join("\n")}\n[${end}]`.trimStart());
}

/**
 * `Bash`: runs a shell command in the step's sandbox, in the working directory. When `signal` aborts (the
 * step's time limit) the command is stopped and the model is told.
 */
export async function bashTool(
  tools: StepTools,
  input: BashInput,
  signal?: AbortSignal,
): Promise<{ text: string; result: CommandResult }> {
  const timeoutSec = Math.ceil((input.timeout ?? DEFAULT_TIMEOUT_MS) / 1000);
  const result = await tools.run(["bash", "-c", input.command], { timeoutSec, ...(signal ? { signal } : {}) });
  const text = formatCommandResult(result);
  return { text: signal?.aborted ? `${text}\n[stopped: the step reached its time limit]` : text, result };
}
