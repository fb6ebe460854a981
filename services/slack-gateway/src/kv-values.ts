import { InvalidRecordError, type TypedKv } from "@mllead/bus";
import type { Logger } from "pino";
import type { z } from "zod";

/**
 * The values of `keys` in `kv`, in order. A key deleted since it was listed is absent; a stored record that
 * does not match its schema is logged (warn) and left out, so one bad record does not hide the rest; any
 * other error (NATS failing) is thrown.
 */
export async function readValues<S extends z.ZodType>(
  kv: TypedKv<S>,
  keys: readonly string[],
  log: Pick<Logger, "warn">,
): Promise<z.output<S>[]> {
  const out: z.output<S>[] = [];
  for (const k of keys) {
    try {
      const v = await kv.get(k);
      if (v) out.push(v.value);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      log.warn({ err, key: k }, "left out a stored record that does not match its schema");
    }
  }
  return out;
}
