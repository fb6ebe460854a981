import type { z } from "zod";

/** The first few problems of a failed parse, as one readable line (`path: message; …`). Internal to the bus. */
export function formatIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
