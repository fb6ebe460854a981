/** Which Claude call failed: the tech lead's plan, revision, summary or lesson, or a specialist's step loop. */
export type BrainCall = "plan" | "revision" | "summary" | "lesson" | "step";

/** What each call produces, for people: its article and its name ("a" + "revised plan"). */
const CALL_NOUNS: Readonly<Record<BrainCall, { article: "a" | "the"; name: string }>> = {
  plan: { article: "a", name: "plan" },
  revision: { article: "a", name: "revised plan" },
  summary: { article: "the", name: "summary" },
  lesson: { article: "a", name: "lesson" },
  step: { article: "a", name: "result for the step" },
};

/** What the call would have produced, for people: "a plan", "a revised plan", "the summary". */
export function callNoun(call: BrainCall): string {
  const { article, name } = CALL_NOUNS[call];
  return `${article} ${name}`;
}

/** As `callNoun`, without the article: "plan", "revised plan", "summary". */
export function callName(call: BrainCall): string {
  return CALL_NOUNS[call].name;
}
