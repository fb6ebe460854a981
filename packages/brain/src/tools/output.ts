/** The image types the Messages API takes in a tool result. */
export type ImageMediaType = "image/png" | "image/jpeg" | "image/gif" | "image/webp";

/** One block of a tool's answer, as the Messages API takes it inside a `tool_result`. */
type ToolContentBlock =
  | { type: "text"; text: string }
  | { type: "image"; source: { type: "base64"; media_type: ImageMediaType; data: string } };

/** What a tool answers: text, or blocks (text and images) where text cannot carry it (a plot `Read` looks at). */
export type ToolOutput = string | ToolContentBlock[];

/** The answer as text: images become a short placeholder (what the offline brain and logs see). */
export function outputText(out: ToolOutput): string {
  if (typeof out === "string") return out;
  return out.map((b) => (b.type === "text" ? b.text : `[${b.source.media_type} image]`)).join("\n");
}
