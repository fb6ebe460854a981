import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { numberedCriteria, type StepWork } from "@mllead/contracts";
import { testStep, testStepWork } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { createLocalTools } from "../testing/local-tools.js";
import { MAX_IMAGE_BYTES, READ_MAX_CHARS } from "./read-tool.js";
import { createToolbox, toolsFor } from "./toolbox.js";

function work(): StepWork {
  return testStepWork({
    ...testStep("data", "data-engineer", { title: "Prepare the data" }),
    acceptanceCriteria: numberedCriteria("the script runs"),
  });
}

/** A real PNG of `w`×`h` grey pixels, with `pad` bytes of extra (valid, ignored) chunk data to make it large. */
export function png(w: number, h: number, pad = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const raw = Buffer.alloc((w + 1) * h, 0x80);
  for (let y = 0; y < h; y++) raw[y * (w + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(pad > 0 ? [chunk("tEXt", Buffer.alloc(pad, 0x41))] : []),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Rows of the large CSV: over 5 MiB. */
const ROWS = 80_000;

/** A CSV of `rows` rows (plus a header) of about 60 characters each. */
function csv(rows: number): string {
  const lines = ["id,age,tenure_months,monthly_charges,total_charges,contract,churned,notes"];
  for (let i = 1; i <= rows; i++)
    lines.push(
      `${i},${20 + (i % 50)},${i % 72},${(i % 9000) / 100 + 20},${i * 3.5},month,${i % 2},customer called support about billing twice`,
    );
  return `${lines.join("\n")}\n`;
}

describe("Read caps what it returns and says how to read on", () => {
  it("a 5 MB CSV: the first part, under ~25,000 tokens, then the offset to go on; a later page by offset", async () => {
    const data = await mkdtemp(join(tmpdir(), "mllead-data-"));
    try {
      const text = csv(ROWS);
      expect(text.length).toBeGreaterThan(5 * 1024 * 1024);
      await writeFile(join(data, "train.csv"), text);
      await using tools = await createLocalTools({ dataDirs: [data] });
      const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
      const file = join(data, "train.csv");
      const first = await box.call("Read", { file_path: file });
      expect(first.length).toBeLessThanOrEqual(READ_MAX_CHARS + 500);
      const lines = first.split("\n");
      expect(lines[0]).toBe(`     1\t${text.split("\n")[0]}`);
      const shown = lines.filter((l) => /^\s+\d+\t/.test(l)).length;
      expect(shown).toBeGreaterThan(1000);
      expect(lines.at(-2)).toMatch(
        /this answer stopped at about 25,000 tokens \(100,000 characters\), Read's limit: read on from offset/,
      );
      expect(lines.at(-1)).toBe(
        `… ${file} goes on (${(text.length / 1024 / 1024).toFixed(1)} MiB in all; use offset ${shown + 1} to read on)`,
      );
      const next = await box.call("Read", { file_path: file, offset: shown + 1, limit: 2 });
      expect(next.split("\n").slice(0, 2)).toEqual(
        text
          .split("\n")
          .slice(shown, shown + 2)
          .map((l, i) => `${String(shown + 1 + i).padStart(6)}\t${l}`),
      );
      // Deep into the file (past the first MiB page), and the end of it.
      const deep = await box.call("Read", { file_path: file, offset: 70_001, limit: 1 });
      expect(deep.split("\n")[0]).toBe(` 70001\t${text.split("\n")[70_000]}`);
      expect(await box.call("Read", { file_path: file, offset: ROWS + 1 })).toBe(` ${ROWS + 1}\t${text.split("\n")[ROWS]}`);
      await expect(box.call("Read", { file_path: file, offset: ROWS + 3 })).rejects.toThrow(
        `${file} has ${ROWS + 1} lines; offset ${ROWS + 3} is past the end`,
      );
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it("a file under 1 MiB past the cap: the exact number of lines left, as before; long lines stay cut", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await tools.writeFile(
      "wide.txt",
      `${"x".repeat(5000)}\n${Array.from({ length: 2999 }, (_, i) => `${i}`.padEnd(99, ".")).join("\n")}\n`,
    );
    const out = (await box.call("Read", { file_path: "wide.txt" })).split("\n");
    expect(out[0]).toBe(`     1\t${"x".repeat(2000)}… [line cut]`);
    const shown = out.filter((l) => /^\s+\d+\t/.test(l)).length;
    expect(out.join("\n").length).toBeLessThanOrEqual(READ_MAX_CHARS + 500);
    expect(out.at(-1)).toBe(`… ${3000 - shown} more lines (use offset ${shown + 1} to read on)`);
    expect(await box.call("Read", { file_path: "wide.txt", offset: 3000 })).toBe(`  3000\t${"2998".padEnd(99, ".")}`);
  });

  it("keeps a character cut by a page boundary whole", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    // 'é' is two bytes: with an odd-length first line, one of them falls across the 1 MiB page boundary.
    const line = `a${"é".repeat(999)}`;
    const count = Math.ceil((1024 * 1024) / (Buffer.byteLength(line) + 1)) + 5;
    await tools.writeFile("accents.txt", `${Array.from({ length: count }, () => line).join("\n")}\n`);
    const page = await box.call("Read", { file_path: "accents.txt", offset: count - 10, limit: 10 });
    expect(
      page
        .split("\n")
        .slice(0, 10)
        .map((l) => l.split("\t")[1]),
    ).toEqual(Array.from({ length: 10 }, () => line));
  });
});

describe("Read describes binary files and shows images", () => {
  it("a file with NUL bytes, one that is not UTF-8, and a NumPy array are described with type and size, not dumped", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await writeFile(join(tools.root, "model.bin"), Buffer.from([1, 2, 0, 3, 4, 0, 0, 0]));
    await writeFile(join(tools.root, "latin1.txt"), Buffer.from("caf\xe9 cr\xe8me\n", "latin1"));
    await writeFile(
      join(tools.root, "x.npy"),
      Buffer.concat([Buffer.from([0x93]), Buffer.from("NUMPY\x01\x00v\x00{'descr': '<f8'}")]),
    );
    expect(await box.call("Read", { file_path: "model.bin" })).toBe(
      "model.bin is binary data (not UTF-8 text), 8 bytes: Read shows text files and PNG, JPEG, GIF or WebP images only. Inspect it with Bash (e.g. python3 -c '...', file, xxd | head).",
    );
    expect(await box.call("Read", { file_path: "latin1.txt" })).toMatch(
      /^latin1\.txt is binary data \(not UTF-8 text\), 11 bytes/,
    );
    expect(await box.call("Read", { file_path: "x.npy" })).toMatch(/^x\.npy is a NumPy array \(\.npy\), \d+ bytes/);
  });

  it("a PNG comes back as an image block (base64 of the file); one over the API's 5 MB is described instead", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const plot = png(64, 48);
    await writeFile(join(tools.root, "loss.png"), plot);
    const out = await box.callForModel("Read", { file_path: "loss.png" });
    expect(out).toEqual([
      { type: "text", text: `loss.png: PNG image, 64×48 px, ${plot.length} bytes` },
      { type: "image", source: { type: "base64", media_type: "image/png", data: plot.toString("base64") } },
    ]);
    expect(await box.call("Read", { file_path: "loss.png" })).toBe(
      `loss.png: PNG image, 64×48 px, ${plot.length} bytes\n[image/png image]`,
    );
    await writeFile(join(tools.root, "huge.png"), png(64, 48, MAX_IMAGE_BYTES));
    expect(await box.callForModel("Read", { file_path: "huge.png" })).toMatch(
      /^huge\.png: PNG image, 64×48 px, 3\.8 MiB — too large to show: images up to 3\.8 MiB \(5 MB as base64\)/,
    );
  });
});

describe("Glob and Grep honour .gitignore", () => {
  it("leave out what the repository ignores (tracked files stay), and say how many paths they left out", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const git = (...args: string[]) => execFileSync("git", args, { cwd: tools.root, stdio: "pipe" });
    git("init", "-q");
    await tools.writeFile(".gitignore", "outputs/\n*.log\n");
    await tools.writeFile("src/train.py", "lr = 0.1\n");
    await tools.writeFile("src/notes.log", "lr = 0.3\n");
    await tools.writeFile("outputs/run1/train.py", "lr = 0.2\n");
    await tools.writeFile("kept.log", "lr = 0.4\n");
    git("add", "-f", "kept.log");
    expect(await box.call("Glob", { pattern: "**/*" })).toBe(
      ".gitignore\nkept.log\nsrc/train.py\n(2 path(s) that .gitignore ignores were left out (as ripgrep does): Read them by name, or list them with Bash)",
    );
    expect(await box.call("Grep", { pattern: "lr =" })).toBe(
      "kept.log\nsrc/train.py\n(2 path(s) that .gitignore ignores were left out (as ripgrep does): Read them by name, or list them with Bash)",
    );
    expect(await box.call("Read", { file_path: "outputs/run1/train.py" })).toBe("     1\tlr = 0.2");
  });
});
