import { ChannelLessons, MAX_LESSONS_PER_CHANNEL } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import {
  emptyBook,
  findLesson,
  forgetLesson,
  type LessonDraft,
  type LessonEntry,
  lessonsForPlan,
  recordLessons,
} from "./lesson-book.js";

const at = (minute: number) => `2025-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`;

/** The lesson a brain would draw from these test requests: a number of epochs is a setting, anything else a rule. */
function draftOf(text: string): LessonDraft {
  const epochs = Number(/(\d+) epochs/.exec(text)?.[1]);
  if (epochs > 0)
    return { rule: `Train for ${epochs} epochs unless told otherwise`, setting: { name: "epochs", value: epochs }, roles: [] };
  return { rule: `${text.charAt(0).toUpperCase()}${text.slice(1)}`, roles: [] };
}

/** `reinforces`: the kept lesson the brain says this one repeats (the book compares no prose itself). */
function request(text: string, taskId = "t1", reinforces?: string): LessonEntry[] {
  const draft = draftOf(text);
  return [{ draft: reinforces ? { ...draft, reinforces } : draft, source: { kind: "change_request", taskId, text } }];
}

function record(book: ChannelLessons, entries: LessonEntry[], key: string, minute = 0): ChannelLessons {
  const out = recordLessons(book, entries, { key, by: "UREQ", at: at(minute) });
  if (!out) throw new Error(`nothing recorded for ${key}`);
  return ChannelLessons.parse(out.book);
}

describe("a channel's lessons", () => {
  it("records a change request's lesson with its id, source, who and when", () => {
    const book = record(emptyBook("C1"), request("use 20 epochs"), "decision:d1");
    expect(book.lessons).toEqual([
      {
        id: "L1",
        channel: "C1",
        rule: "Train for 20 epochs unless told otherwise",
        setting: { name: "epochs", value: 20 },
        roles: [],
        source: { kind: "change_request", taskId: "t1", text: "use 20 epochs" },
        by: "UREQ",
        at: at(0),
        lastAt: at(0),
        times: 1,
      },
    ]);
    expect(book.nextId).toBe(2);
  });

  it("records a redelivered correction once", () => {
    const book = record(emptyBook("C1"), request("use 20 epochs"), "decision:d1");
    expect(recordLessons(book, request("use 20 epochs"), { key: "decision:d1", by: "UREQ", at: at(1) })).toBeNull();
  });

  it("deduplicates: a newer value of a setting replaces the older; a similar rule reinforces the one kept", () => {
    let book = record(emptyBook("C1"), request("use 20 epochs"), "d1", 1);
    book = record(book, request("also report precision at the top 10% of scores"), "d2", 2);
    book = record(book, request("train for 30 epochs", "t2"), "d3", 3);
    book = record(book, request("report precision at the top 10% of scores", "t3", "L2"), "d4", 4);
    expect(book.lessons.map((l) => [l.id, l.rule, l.times])).toEqual([
      ["L1", "Train for 30 epochs unless told otherwise", 2],
      ["L2", "Report precision at the top 10% of scores", 2],
    ]);
    expect(book.lessons[0]?.setting).toEqual({ name: "epochs", value: 30 });
    expect(book.lessons[0]?.source.taskId).toBe("t2");
    expect(book.lessons[0]?.at).toBe(at(1));
    expect(book.lessons[0]?.lastAt).toBe(at(3));
  });

  it("follows the brain: a named lesson is reinforced, a similar rule it did not name is a new lesson, a gone id adds one", () => {
    let book = record(emptyBook("C1"), request("always fit the scaler on the train split only"), "d1", 1);
    book = record(book, request("fit the scaler on the train split only"), "d2", 2);
    expect(book.lessons.map((l) => [l.id, l.times])).toEqual([
      ["L1", 1],
      ["L2", 1],
    ]);
    book = record(book, request("Fit the scaler on the train split only, always", "t2", "L1"), "d3", 3);
    expect(book.lessons.map((l) => [l.id, l.rule, l.times])).toEqual([
      ["L1", "Fit the scaler on the train split only, always", 2],
      ["L2", "Fit the scaler on the train split only", 1],
    ]);
    book = record(book, request("plot the ROC curve", "t3", "L9"), "d4", 4);
    expect(book.lessons.map((l) => l.id)).toEqual(["L1", "L2", "L3"]);
  });

  it("keeps at most 50 lessons per channel, dropping the one reinforced least recently", () => {
    let book = emptyBook("C1");
    for (let i = 0; i < MAX_LESSONS_PER_CHANNEL; i++)
      book = record(book, request(`always label plot number ${i} clearly`), `d${i}`, i);
    // L1 is taught again, so L2 is now the stalest.
    book = record(book, request("always label plot number 0 clearly", "t1", "L1"), "again", 55);
    book = record(book, request("write the model card in English"), "new", 56);
    expect(book.lessons).toHaveLength(MAX_LESSONS_PER_CHANNEL);
    expect(book.lessons.map((l) => l.id)).toContain("L1");
    expect(book.lessons.map((l) => l.id)).not.toContain("L2");
    expect(book.lessons.at(-1)?.id).toBe("L51");
  });

  it("forgets a lesson by its number as listed or by its id; never reuses the id", () => {
    let book = record(emptyBook("C1"), request("use 20 epochs"), "d1");
    book = record(book, request("also plot the ROC curve"), "d2");
    expect(findLesson(book, "2")?.id).toBe("L2");
    expect(findLesson(book, "l1")?.id).toBe("L1");
    expect(findLesson(book, "3")).toBeUndefined();
    expect(findLesson(book, "everything")).toBeUndefined();
    const out = forgetLesson(book, "1");
    expect(out?.forgotten.id).toBe("L1");
    book = out?.book as ChannelLessons;
    expect(book.lessons.map((l) => l.id)).toEqual(["L2"]);
    expect(forgetLesson(book, "L1")).toBeNull();
    book = record(book, request("use 20 epochs"), "d3");
    expect(book.lessons.map((l) => l.id)).toEqual(["L2", "L3"]);
  });

  it("gives a plan the channel's lessons, less those its own task taught", () => {
    let book = record(emptyBook("C1"), request("use 20 epochs", "t1"), "d1");
    book = record(book, request("also plot the ROC curve", "t2"), "d2");
    expect(lessonsForPlan(book, "t1").map((l) => l.id)).toEqual(["L2"]);
    expect(lessonsForPlan(book, "t9").map((l) => l.id)).toEqual(["L1", "L2"]);
  });
});
