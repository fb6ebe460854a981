/** A person's words as a Markdown block quote in a prompt: every line behind `> `, the words untouched. */
export function blockQuote(text: string): string {
  return text
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
}
