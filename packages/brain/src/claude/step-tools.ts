import { betaZodTool } from "@anthropic-ai/sdk/helpers/beta/zod";
import { z } from "zod";
import { isRetryableStepError } from "../errors.js";
import type { ToolOutput } from "../tools/output.js";
import type { Toolbox } from "../tools/toolbox.js";
import type { Transcript } from "../types.js";
import { journalFor } from "./journal.js";

/**
 * What the tools of one reply share: how many calls the reply makes (FinishStep must be alone), and the halt a
 * tool pulls when it meets a RetryableStepError, which stops the loop before its next request.
 */
export interface TurnState {
  calls: number;
  halt(err: unknown): void;
  halted(): boolean;
}

const FINISH_ALONE =
  "FinishStep was not run: call it alone, in a turn of its own. The other calls of this turn ran; read their results above, then call FinishStep by itself.";

/**
 * The toolbox as the SDK's runnable tools. Every finished call is journalled in
 * the transcript by its tool_use id: a loop resumed after a crash answers those
 * from the journal instead of running them again. A `Bash` call that was running
 * when the process died is not repeated (it may have half-run): the model is told.
 * A `Write` or `Edit` journals its intent (the file's hash before and after) before
 * it changes the file, so an interrupted one is found applied, or applied once.
 * Other calls repeat safely: reads, and GPU jobs, whose id comes from their content
 * so the same job is found again.
 */
export function runnableTools(
  toolbox: Toolbox,
  transcript: Transcript,
  interrupted: Set<string>,
  save: (strict?: boolean) => Promise<void>,
  turn: TurnState,
) {
  const specs = toolbox.specs();
  return specs.map((spec, i) =>
    betaZodTool({
      name: spec.name,
      description: spec.description,
      inputSchema: spec.input as z.ZodObject,
      ...(i === specs.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
      run: async (input: unknown, ctx) => {
        const id = ctx?.toolUse.id;
        const journalled = id ? transcript.toolResults[id] : undefined;
        if (journalled) {
          if (journalled.isError) throw new Error(journalled.content);
          return journalled.content;
        }
        let content: ToolOutput;
        let isError = false;
        if (spec.name === "FinishStep" && turn.calls > 1) {
          content = FINISH_ALONE;
          isError = true;
        } else if (id && interrupted.has(id) && spec.name === "Bash") {
          content =
            "This command was running when the specialist restarted, so it may have run in part. It was not run again: check the state of the files before you decide to run it again.";
          isError = true;
        } else {
          try {
            const journal =
              id && (spec.name === "Write" || spec.name === "Edit")
                ? journalFor(id, transcript, interrupted.has(id), save)
                : undefined;
            content = await toolbox.callForModel(spec.name, input, journal ? { journal } : {});
          } catch (err) {
            // The bus down or the process stopping is no tool error for the model: the loop ends, the step is redelivered.
            if (isRetryableStepError(err)) turn.halt(err);
            if (turn.halted()) throw err;
            content = err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
            isError = true;
          }
        }
        // A call cut short by the halt is not journalled: the redelivered step runs it again (or says it was interrupted).
        if (turn.halted()) throw new Error("the step stopped for redelivery");
        // An answer with an image (a Read, which repeats safely) is not journalled: the image stays out of the journal.
        if (id && typeof content === "string") {
          transcript.toolResults[id] = { content, isError };
          await save();
        }
        if (isError) throw new Error(typeof content === "string" ? content : "the tool failed");
        return content;
      },
    }),
  );
}
