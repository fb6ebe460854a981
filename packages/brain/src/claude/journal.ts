import type { FileJournal } from "../tools/index.js";
import type { StepTools, Transcript } from "../types.js";

/**
 * Serialises saves so concurrent tool calls never interleave writes of the transcript. A failed save is
 * logged and the loop goes on, except a `strict` one (a file change's intent), whose caller gets the error.
 */
export function saver(tools: StepTools, transcript: Transcript): (strict?: boolean) => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  return (strict = false) => {
    const attempt = chain.then(() => tools.transcript?.save(transcript));
    chain = attempt.catch((err) => tools.log.warn({ err }, "could not save the step's transcript"));
    return strict ? attempt : chain;
  };
}

/** The journal of one Write or Edit call: its intent goes into the transcript, saved, before the file changes. */
export function journalFor(
  id: string,
  transcript: Transcript,
  resumed: boolean,
  save: (strict?: boolean) => Promise<void>,
): FileJournal {
  const previous = resumed ? transcript.intents?.[id] : undefined;
  return {
    ...(previous ? { previous } : {}),
    async record(intent) {
      transcript.intents = { ...transcript.intents, [id]: intent };
      try {
        await save(true);
      } catch (err) {
        throw new Error(
          `the change was not made: it could not be journalled first (${err instanceof Error ? err.message : String(err)})`,
          { cause: err },
        );
      }
    },
  };
}
