import { z } from "zod";
import { Version } from "./common.js";
import { TaskView } from "./task.js";

/**
 * `mllead.q.status`: the active tasks (and the most recent finished ones) for `/mllead status`,
 * as far as they concern the caller: the tasks of `channel` (where the command was run) and
 * those `userId` asked for. A query naming neither sees no task.
 */
export const StatusQuery = z.object({
  v: Version,
  channel: z.string().max(100).optional(),
  /** The Slack user who asked. */
  userId: z.string().max(100).optional(),
  /** How many finished tasks to include besides the active ones. */
  recent: z.number().int().min(0).max(20).default(3),
});
export type StatusQuery = z.infer<typeof StatusQuery>;

export const QueryError = z.object({ code: z.string(), message: z.string() });

export const StatusReply = z.union([
  z.object({ v: Version, ok: z.literal(true), active: z.array(TaskView), recent: z.array(TaskView) }),
  z.object({ v: Version, ok: z.literal(false), error: QueryError }),
]);
export type StatusReply = z.infer<typeof StatusReply>;
