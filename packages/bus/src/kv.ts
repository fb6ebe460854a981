import type { KV } from "@nats-io/kv";
import type { z } from "zod";
import { ConflictError } from "./errors.js";

export interface Versioned<T> {
  value: T;
  revision: number;
}

/**
 * A KV bucket whose values are JSON validated by a zod schema on the way in and out.
 * Writes that must not lose a concurrent update go through `update` (compare-and-swap).
 */
export class TypedKv<S extends z.ZodType> {
  constructor(
    readonly kv: KV,
    readonly schema: S,
  ) {}

  async get(key: string): Promise<Versioned<z.output<S>> | null> {
    const e = await this.kv.get(key);
    if (e?.operation !== "PUT" || e.length === 0) return null;
    return { value: this.schema.parse(e.json()), revision: e.revision };
  }

  /** Writes only if the key does not exist; returns null when it already does. */
  async create(key: string, value: z.input<S>): Promise<number | null> {
    try {
      return await this.kv.create(key, JSON.stringify(this.schema.parse(value)));
    } catch (err) {
      if (await this.kv.get(key)) return null;
      throw err;
    }
  }

  async put(key: string, value: z.input<S>): Promise<number> {
    return this.kv.put(key, JSON.stringify(this.schema.parse(value)));
  }

  /** Compare-and-swap: writes only if the key is still at `revision`. Throws on a lost race. */
  async update(key: string, value: z.input<S>, revision: number): Promise<number> {
    return this.kv.update(key, JSON.stringify(this.schema.parse(value)), revision);
  }

  /**
   * Reads, applies `fn`, and writes back with compare-and-swap, retrying on a lost race.
   * `fn` returns the new value, or null to leave the key unchanged.
   */
  async mutate(
    key: string,
    fn: (current: z.output<S>) => z.input<S> | null,
    attempts = 10,
  ): Promise<Versioned<z.output<S>> | null> {
    for (let i = 0; i < attempts; i++) {
      const cur = await this.get(key);
      if (!cur) return null;
      const next = fn(cur.value);
      if (next === null) return cur;
      try {
        const revision = await this.update(key, next, cur.revision);
        return { value: this.schema.parse(next), revision };
      } catch (err) {
        if (i === attempts - 1) throw new ConflictError(`gave up updating '${key}' after ${attempts} races`, { cause: err });
      }
    }
    return null;
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete(key);
  }

  async keys(filter = ">"): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys(filter)) out.push(k);
    return out;
  }
}
