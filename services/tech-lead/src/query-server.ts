import type { Bus, InvalidMessageError } from "@mllead/bus";
import { LessonsQuery, LessonsReply, StatusQuery, StatusReply, SUBJECTS } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Lessons } from "./lessons.js";
import { answerStatus } from "./status.js";
import type { TaskStore } from "./task-store.js";

/** What the query server answers from. */
export interface QueryServerDeps {
  bus: Pick<Bus, "serve">;
  store: TaskStore;
  lessons: Pick<Lessons, "answer">;
  log: Logger;
}

/** A request that does not parse is answered with its own code (`invalid_message`) and reason. */
const invalid = (e: InvalidMessageError) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } });

/** Answers `/mllead status` and `/mllead lessons` for the gateway (request/reply; never throws per request). */
export async function serveQueries(deps: QueryServerDeps): Promise<void> {
  const { bus, store, lessons, log } = deps;
  await bus.serve(SUBJECTS.statusQuery, StatusQuery, StatusReply, (q) => answerStatus(store, q, log), invalid);
  await bus.serve(SUBJECTS.lessonsQuery, LessonsQuery, LessonsReply, (q) => lessons.answer(q), invalid);
}
