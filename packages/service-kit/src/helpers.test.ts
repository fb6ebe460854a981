import { describe, expect, it } from "vitest";
import { z } from "zod";
import { bestEffort, codedError, formatIssues, KeyedQueue, ShuttingDownError } from "./helpers.js";

function debugLog() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  return { lines, debug: (obj: object, msg: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }) };
}

describe("bestEffort", () => {
  it("logs a failure at debug under the op's name and resolves false, sync or async", async () => {
    const log = debugLog();
    const boom = new Error("already gone");
    expect(await bestEffort("remove scratch dir", log, async () => Promise.reject(boom))).toBe(false);
    expect(
      await bestEffort("kill process group", log, () => {
        throw boom;
      }),
    ).toBe(false);
    expect(log.lines).toEqual([
      { obj: { err: boom, op: "remove scratch dir" }, msg: "best effort: remove scratch dir failed" },
      { obj: { err: boom, op: "kill process group" }, msg: "best effort: kill process group failed" },
    ]);
  });

  it("resolves true and logs nothing when the step succeeds, after awaiting it", async () => {
    const log = debugLog();
    let done = false;
    const flush = async () => {
      await Promise.resolve();
      done = true;
    };
    expect(await bestEffort("flush", log, flush)).toBe(true);
    expect(done).toBe(true);
    expect(log.lines).toEqual([]);
  });
});

describe("KeyedQueue", () => {
  it("runs one key's work in order, past a failure, while other keys go ahead", async () => {
    const q = new KeyedQueue();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = q.run("a", async () => {
      await gate;
      order.push("a1");
      throw new Error("a1 failed");
    });
    const a2 = q.run("a", () => {
      order.push("a2");
      return 2;
    });
    const b1 = q.run("b", () => {
      order.push("b1");
      return "b";
    });
    expect(await b1).toBe("b");
    expect(order).toEqual(["b1"]);
    release();
    await expect(a1).rejects.toThrow("a1 failed");
    expect(await a2).toBe(2);
    expect(order).toEqual(["b1", "a1", "a2"]);
  });

  it("forgets a key once its work has settled", async () => {
    const q = new KeyedQueue();
    await q.run("k", async () => undefined);
    await new Promise((r) => setImmediate(r));
    expect(q.size).toBe(0);
  });
});

describe("formatIssues", () => {
  const Schema = z.object({ name: z.string(), spec: z.object({ gpus: z.number() }) });

  it("puts the first problems on one line with their paths", () => {
    const err = Schema.safeParse({ spec: { gpus: "two" } }).error as z.ZodError;
    expect(formatIssues(err)).toBe(
      "name: Invalid input: expected string, received undefined; spec.gpus: Invalid input: expected number, received string",
    );
    expect(formatIssues(err.issues, { max: 1 })).toBe("name: Invalid input: expected string, received undefined");
  });

  it("names the root as asked", () => {
    const err = z.string().safeParse(3).error as z.ZodError;
    expect(formatIssues(err)).toBe("(root): Invalid input: expected string, received number");
    expect(formatIssues(err, { root: "frontmatter" })).toMatch(/^frontmatter: /);
  });
});

describe("codedError", () => {
  abstract class ShopError extends Error {
    abstract readonly code: "out_of_stock" | "closed";
    override readonly name: string = "ShopError";
  }
  const OutOfStockError = codedError(ShopError, "out_of_stock", "OutOfStockError");
  class GitLikeError extends Error {
    constructor(
      message: string,
      readonly args: readonly string[] = [],
      options?: ErrorOptions,
    ) {
      super(message, options);
    }
  }
  const PushError = codedError(GitLikeError, "push_failed", "PushError");

  it("makes a subclass of its base with code and name set and the cause kept", () => {
    const cause = new Error("shelf empty");
    const err: unknown = new OutOfStockError("no apples", { cause });
    expect(err).toBeInstanceOf(OutOfStockError);
    expect(err).toBeInstanceOf(ShopError);
    expect(err).toBeInstanceOf(Error);
    if (!(err instanceof OutOfStockError)) throw new Error("instanceof did not narrow");
    const code: "out_of_stock" = err.code;
    expect({ code, name: err.name, message: err.message, cause: err.cause }).toEqual({
      code: "out_of_stock",
      name: "OutOfStockError",
      message: "no apples",
      cause,
    });
    expect(OutOfStockError.name).toBe("OutOfStockError");
    expect(String(err)).toBe("OutOfStockError: no apples");
    expect(err.stack).toContain("OutOfStockError");
  });

  it("takes its base's constructor arguments unchanged", () => {
    const err = new PushError("rejected", ["push", "origin"], { cause: "hook" });
    expect([err.code, err.name, err.args, err.cause]).toEqual(["push_failed", "PushError", ["push", "origin"], "hook"]);
    expect(new GitLikeError("x")).not.toBeInstanceOf(PushError);
  });

  it("makes service-kit's ShuttingDownError", () => {
    const err = new ShuttingDownError("stopping");
    expect([err instanceof Error, err.code, err.name, err.message]).toEqual([
      true,
      "shutting_down",
      "ShuttingDownError",
      "stopping",
    ]);
  });
});
