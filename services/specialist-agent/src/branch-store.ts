import { type Bus, ConflictError, getFile, putFile, type TypedKv, type Versioned } from "@mllead/bus";
import { BUCKETS, OBJECT_KEYS, OBJECT_STORE } from "@mllead/contracts";
import { z } from "zod";
import { InfrastructureError, infra } from "./errors.js";

const Sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a full commit id");

/** One uncommitted file carried between a task's steps: which step attempt left it (`<stepId>-<attempt>`), its content hash and size. */
export const TaskFileEntry = z.object({
  step: z.string().regex(/^[A-Za-z0-9_-]{1,64}-\d{1,6}$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
export type TaskFileEntry = z.infer<typeof TaskFileEntry>;

/**
 * Where a task's branch stands, shared by every specialist replica (key: the task id). `head` moves only by
 * compare-and-swap on the record's revision, so two replicas never overwrite each other's head.
 */
export const TaskBranchRecord = z.object({
  v: z.literal(1),
  /** The commit the task's branch points at. */
  head: Sha,
  /** The commit the branch started from: the reviewer's diff and the summary's commits count from it. */
  base: Sha,
  /** Object Store name of a git bundle of `base..head`; absent while `head` is `base`. */
  bundle: z.string().max(500).optional(),
  /** The step whose commit moved `head` last. */
  stepId: z.string().max(200).optional(),
  updatedAt: z.string(),
  /**
   * The task's uncommitted files (ignored data, models) by path, as the steps that joined last left them: each
   * step lays them out in its fresh worktree (`task-files.ts`). Absent: none.
   */
  files: z.record(z.string().max(1024), TaskFileEntry).optional(),
});
export type TaskBranchRecord = z.infer<typeof TaskBranchRecord>;

/**
 * The shared side of task branches: the head record in the `mllead_task_branches` bucket and the bundles in
 * the artifact store (`tasks/<taskId>/.branch/<head>.bundle`). A lost compare-and-swap is the bus's
 * `ConflictError`; every other NATS failure is an `InfrastructureError` (the step is redelivered).
 */
export class TaskBranchStore {
  private constructor(
    private readonly bus: Bus,
    private readonly kv: TypedKv<typeof TaskBranchRecord>,
  ) {}

  /** Opens the bucket (the specialist owns it: `Bus.setUp` made it). */
  static async open(bus: Bus): Promise<TaskBranchStore> {
    return new TaskBranchStore(
      bus,
      await infra("opening the task branches", () => bus.kv(BUCKETS.taskBranches, TaskBranchRecord)),
    );
  }

  /** The record of `taskId`, or null when no replica has started it yet. */
  read(taskId: string): Promise<Versioned<TaskBranchRecord> | null> {
    return infra("reading the task's branch record", () => this.kv.get(taskId));
  }

  /** Starts the record at `base` (head = base); null when another replica started it first. */
  async start(taskId: string, base: string): Promise<Versioned<TaskBranchRecord> | null> {
    const value: TaskBranchRecord = { v: 1, head: base, base, updatedAt: new Date().toISOString() };
    const revision = await infra("starting the task's branch record", () => this.kv.create(taskId, value));
    return revision === null ? null : { value, revision };
  }

  /** Moves the head from the record read at `revision`; throws the bus's ConflictError when another replica moved it. */
  async advance(taskId: string, value: TaskBranchRecord, revision: number): Promise<number> {
    try {
      return await this.kv.update(taskId, value, revision);
    } catch (err) {
      if (err instanceof ConflictError) throw err;
      throw new InfrastructureError(`moving the task's branch head failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  /** The bundle's object name for the branch at `head`. */
  bundleName(taskId: string, head: string): string {
    return OBJECT_KEYS.branchBundle(taskId, head);
  }

  /** Uploads the bundle file at `path` as `objectName`. */
  async upload(objectName: string, path: string): Promise<void> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    await infra("uploading the task's branch", () => putFile(store, objectName, path));
  }

  /** Downloads `objectName` to `path`; false when it is not there (a newer head replaced it). */
  async download(objectName: string, path: string): Promise<boolean> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    return infra("downloading the task's branch", () => getFile(store, objectName, path));
  }

  /** Streams `body` into the artifact store as `objectName`; returns the stored size (bytes). */
  async uploadStream(objectName: string, body: ReadableStream<Uint8Array>): Promise<number> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    return infra("uploading a task's file", async () => (await store.put({ name: objectName }, body)).size);
  }

  /** The size of `objectName` in the artifact store, or null when it is not there. */
  async objectSize(objectName: string): Promise<number | null> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    const info = await infra("looking up a task's file", () => store.info(objectName));
    return info && !info.deleted ? info.size : null;
  }

  /**
   * `objectName` as a stream and the promise its read settles with (the store checks its digest at the end),
   * or null when it is not there.
   */
  async openObject(objectName: string): Promise<{ data: ReadableStream<Uint8Array>; error: Promise<Error | null> } | null> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    const obj = await infra("downloading a task's file", () => store.get(objectName));
    return obj ? { data: obj.data, error: obj.error } : null;
  }

  /** Deletes a bundle no record names any more. */
  async remove(objectName: string): Promise<void> {
    const store = await infra("opening the artifact store", () => this.bus.objectStore(OBJECT_STORE));
    await infra("deleting an old bundle", () => store.delete(objectName));
  }
}
