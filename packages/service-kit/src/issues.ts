import type { z } from "zod";

/** How `formatIssues` shortens its line. */
export interface FormatIssuesOptions {
  /** At most this many problems (default 5). */
  max?: number;
  /** The name of the root path (default `(root)`): e.g. `frontmatter`, `(environment)`. */
  root?: string;
}

/**
 * The first few problems of a failed zod parse as one readable line: `path: message; path: message`.
 * Takes the error or its `issues`. The one zod error formatter of the product code (the bus, which
 * service-kit is built on, uses zod's own `z.prettifyError` where it needs one).
 */
export function formatIssues(
  err: z.ZodError | readonly z.core.$ZodIssue[],
  { max = 5, root = "(root)" }: FormatIssuesOptions = {},
): string {
  const issues = "issues" in err ? err.issues : err;
  return issues
    .slice(0, max)
    .map((i) => `${i.path.map(String).join(".") || root}: ${i.message}`)
    .join("; ");
}
