import { describe, expect, it } from "vitest";
import { LineSplitter, LineTail, lastLines, tailChars } from "./output-tail.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("LineTail", () => {
  it("keeps the last 50 lines, each at most 1000 characters", () => {
    const tail = new LineTail();
    for (let i = 0; i < 500; i++) tail.push(`line ${i}`);
    tail.push("x".repeat(5000));
    const lines = tail.toArray();
    expect(lines).toHaveLength(50);
    expect(lines[0]).toBe("line 451");
    expect(lines[48]).toBe("line 499");
    expect(lines[49]).toHaveLength(1000);
    expect(lines[49]?.endsWith("…")).toBe(true);
  });
});

describe("LineSplitter", () => {
  it("splits chunks into lines across chunk boundaries, CRLF and a last unterminated line", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.write(enc("hel"));
    s.write(enc("lo\r\nwor"));
    s.write(enc("ld\n\nend"));
    s.end();
    expect(lines).toEqual(["hello", "world", "", "end"]);
  });

  it("keeps multi-byte characters split across chunks whole", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = enc("loss ↓ 0.1\n");
    s.write(bytes.subarray(0, 6));
    s.write(bytes.subarray(6));
    expect(lines).toEqual(["loss ↓ 0.1"]);
  });

  it("bounds memory for a huge line with no newline and recovers at the next line", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 1000);
    for (let i = 0; i < 1000; i++) s.write(enc("y".repeat(1000)));
    s.write(enc("still the same line\nnext\n"));
    s.end();
    expect(lines).toEqual(["y".repeat(1000), "next"]);
  });
});

describe("lastLines and tailChars", () => {
  it("keeps the last lines of a text, without blank ends", () => {
    expect(lastLines("\none\ntwo\nthree\n\n", 2)).toBe("two\nthree");
    expect(lastLines("  ", 3)).toBe("");
  });

  it("keeps the last characters and says how many were cut", () => {
    expect(tailChars("abcdef", 10)).toBe("abcdef");
    expect(tailChars("abcdef", 2)).toBe("… [4 characters cut]\nef");
  });
});
