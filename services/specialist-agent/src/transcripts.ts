import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Transcript, TranscriptStore } from "@mllead/brain";
import type { Logger } from "pino";

/** Which step attempt a transcript belongs to. */
export interface TranscriptOwner {
  taskId: string;
  stepId: string;
  attempt: number;
}

/** Where a step attempt's transcript lives: beside the worktrees, never inside one (it is not the team's code). */
export function transcriptPath(workspaceDir: string, owner: TranscriptOwner): string {
  return join(workspaceDir, ".transcripts", owner.taskId, `${owner.stepId}-${owner.attempt}.json`);
}

/**
 * A step attempt's model conversation as a JSON file, written whole to a
 * temporary name and renamed, so a crash mid-write leaves the last good copy.
 * It lives on the host that holds the task's worktree, which is where a
 * redelivered step resumes.
 */
export function fileTranscriptStore(workspaceDir: string, owner: TranscriptOwner, log: Logger): TranscriptStore {
  const path = transcriptPath(workspaceDir, owner);
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      try {
        return JSON.parse(text) as Transcript;
      } catch (err) {
        // A transcript that does not parse cannot be resumed; the step starts its conversation again.
        log.warn({ err, path }, "the step's saved transcript is unreadable; starting the conversation again");
        return undefined;
      }
    },
    async save(transcript) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(transcript), "utf8");
      await rename(tmp, path);
    },
  };
}
