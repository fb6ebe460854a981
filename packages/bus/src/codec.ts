import type { z } from "zod";
import { InvalidMessageError, PayloadTooLargeError } from "./errors.js";
import { formatIssues } from "./issues.js";

const TEXT = new TextEncoder();

/** Parses a JSON payload against a schema, throwing InvalidMessageError with a readable reason. */
export function decode<S extends z.ZodType>(subject: string, data: Uint8Array, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new InvalidMessageError(subject, "payload is not JSON", { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidMessageError(subject, formatIssues(parsed.error));
  return parsed.data;
}

/** JSON bytes of `payload`; a PayloadTooLargeError (a poison message, never retried) when they exceed `limit`. */
export function encodeBounded(subject: string, payload: unknown, limit: number): Uint8Array {
  const data = TEXT.encode(JSON.stringify(payload));
  if (data.length > limit) throw new PayloadTooLargeError(`a message on '${subject}'`, data.length, limit);
  return data;
}
