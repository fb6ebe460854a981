import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numberedCriteria, type StepWork } from "@mllead/contracts";
import { testStep, testStepWork } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { createLocalTools } from "../testing/local-tools.js";
import type { FileChangeIntent } from "../types.js";
import { contentHash } from "./file-tools.js";
import { createToolbox, toolsFor } from "./toolbox.js";

function work(): StepWork {
  return testStepWork({
    ...testStep("data", "data-engineer", { title: "Prepare the data" }),
    acceptanceCriteria: numberedCriteria("the script runs"),
  });
}

describe("Grep cannot block the service", () => {
  it("a catastrophic pattern like (a+)+$ on a long 'a…b' line returns, and the event loop keeps turning meanwhile", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const files = Array.from({ length: 20 }, (_, i) => `logs/f${String(i).padStart(2, "0")}.txt`);
    await mkdir(join(tools.root, "logs"));
    for (const f of files) await writeFile(join(tools.root, f), `${"a".repeat(50)}b\nok\n`);
    await writeFile(join(tools.root, "logs", "match.txt"), "aaaa\n");
    // Counts turns of the event loop while the search runs: a pattern run on this thread would stop them all.
    let ticks = 0;
    let running = true;
    const spin = () => {
      ticks += 1;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const before = ticks;
    const out = await box.call("Grep", { pattern: "(a+)+$", path: "logs" }).finally(() => {
      running = false;
    });
    expect(out).toBe("logs/match.txt");
    expect(ticks - before).toBeGreaterThan(files.length);
  });
});

describe("Grep speaks ripgrep's regular expressions (RE2) and says what it left out", () => {
  it("takes (?i), \\b and [[:digit:]], refuses a backreference clearly, and reports files too large to search", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await tools.writeFile("src/a.py", "Alpha = 1\nalphabet = 22\n");
    await tools.writeFile("big.log", `${"x".repeat(1024 * 1024)}\nalpha\n`);
    expect(await box.call("Grep", { pattern: "(?i)\\balpha\\b", output_mode: "content", "-n": true })).toBe(
      "src/a.py:1:Alpha = 1\n(1 file(s) over 1 MiB were not searched: use Bash (grep, rg) for those)",
    );
    expect(await box.call("Grep", { pattern: "[[:digit:]]{2}", output_mode: "count", glob: "*.py" })).toBe("src/a.py:1");
    await expect(box.call("Grep", { pattern: "(a)\\1" })).rejects.toThrow(/invalid regular expression: .*invalid escape/);
  });

  it("a search stopped by the step's signal says its results are partial", async () => {
    await using tools = await createLocalTools();
    const stop = new AbortController();
    stop.abort();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }), { signal: stop.signal });
    await tools.writeFile("a.txt", "alpha\n");
    expect(await box.call("Grep", { pattern: "alpha" })).toBe(
      "No matches found\n(the search was stopped: the step is ending; what is above is partial)",
    );
  });
});

describe("Glob and Grep say when a listing hit a limit", { timeout: 60_000 }, () => {
  it("past 10,000 files walked, and past the entries shown", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    execFileSync("bash", ["-c", "mkdir many && cd many && seq -f 'f%05g.txt' 1 10001 | xargs touch"], { cwd: tools.root });
    const globbed = (await box.call("Glob", { pattern: "**/*.txt" })).split("\n");
    expect(globbed).toHaveLength(252);
    expect(globbed.slice(-2)).toEqual([
      "… 9750 more (first 250 shown)",
      "(the listing stopped after 10000 files, so there may be more: use a narrower path)",
    ]);
    await writeFile(join(tools.root, "many", "f00001.txt"), "needle\n");
    expect(await box.call("Grep", { pattern: "needle", glob: "f0000*.txt" })).toBe(
      "many/f00001.txt\n(the listing stopped after 10000 files, so there may be more: use a narrower path)",
    );
    expect(await box.call("Glob", { pattern: "*.txt", path: "many/f00001.txt" })).toBe("many/f00001.txt");
  });
});

describe("the team's data dirs: read by absolute path, never written", () => {
  it("Read, Glob and Grep reach them; Write and Edit are refused", async () => {
    const data = await mkdtemp(join(tmpdir(), "mllead-data-"));
    try {
      await writeFile(join(data, "churn.csv"), "id,churned\n1,0\n");
      await using tools = await createLocalTools({ dataDirs: [data] });
      const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
      const file = join(data, "churn.csv");
      expect(await box.call("Read", { file_path: file })).toBe("     1\tid,churned\n     2\t1,0");
      expect(await box.call("Glob", { pattern: "*.csv", path: data })).toBe(file);
      expect(await box.call("Grep", { pattern: "churned", path: data })).toBe(file);
      await expect(box.call("Write", { file_path: file, content: "x" })).rejects.toThrow(/outside the working directory/);
      await expect(box.call("Edit", { file_path: file, old_string: "1,0", new_string: "1,1" })).rejects.toThrow(
        /outside the working directory/,
      );
      await symlink(data, join(tools.root, "data"));
      await expect(box.call("Write", { file_path: "data/new.csv", content: "x" })).rejects.toThrow(
        "data is a symbolic link into a read-only data directory; not written",
      );
      expect(await readdir(data)).toEqual(["churn.csv"]);
      expect(await readFile(file, "utf8")).toBe("id,churned\n1,0\n");
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});

describe("Write and Edit are journalled and idempotent by content", () => {
  const journal = (previous?: FileChangeIntent) => {
    const recorded: FileChangeIntent[] = [];
    return {
      recorded,
      journal: { ...(previous ? { previous } : {}), record: async (i: FileChangeIntent) => void recorded.push(i) },
    };
  };

  it("journals the intent (hashes before and after) before writing; a Write of the same content writes nothing", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const w = journal();
    await box.call("Write", { file_path: "a.py", content: "x = 1\n" }, { journal: w.journal });
    expect(w.recorded).toEqual([
      { tool: "Write", path: "a.py", before: null, after: contentHash("x = 1\n"), result: "Wrote 2 lines to a.py" },
    ]);
    const again = journal();
    expect(await box.call("Write", { file_path: "a.py", content: "x = 1\n" }, { journal: again.journal })).toBe(
      "Wrote 2 lines to a.py",
    );
    expect(again.recorded).toEqual([]);
    const e = journal();
    await box.call("Edit", { file_path: "a.py", old_string: "x = 1", new_string: "x = 2" }, { journal: e.journal });
    expect(e.recorded).toEqual([
      {
        tool: "Edit",
        path: "a.py",
        before: contentHash("x = 1\n"),
        after: contentHash("x = 2\n"),
        result: "Edited a.py: 1 replacement(s)",
      },
    ]);
  });

  it("a resumed Edit: already applied is reported, not applied; not applied yet is applied once; changed since is refused", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    const edit = { file_path: "n.py", old_string: "n = 1", new_string: "n = 1 + 1" };
    const intent: FileChangeIntent = {
      tool: "Edit",
      path: "n.py",
      before: contentHash("n = 1\n"),
      after: contentHash("n = 1 + 1\n"),
      result: "Edited n.py: 1 replacement(s)",
    };
    await tools.writeFile("n.py", "n = 1 + 1\n");
    expect(await box.call("Edit", edit, { journal: journal(intent).journal })).toBe(
      "Edited n.py: 1 replacement(s) (applied before the specialist restarted; not applied again)",
    );
    expect(await tools.readFile("n.py")).toBe("n = 1 + 1\n");
    await tools.writeFile("n.py", "n = 1\n");
    await box.call("Edit", edit, { journal: journal(intent).journal });
    expect(await tools.readFile("n.py")).toBe("n = 1 + 1\n");
    await tools.writeFile("n.py", "n = 5\n");
    await expect(box.call("Edit", edit, { journal: journal(intent).journal })).rejects.toThrow(
      /was being applied when the specialist restarted, and n\.py has changed since/,
    );
    expect(await tools.readFile("n.py")).toBe("n = 5\n");
  });

  it("edits of one file called together are applied one after the other, none lost", async () => {
    await using tools = await createLocalTools();
    const box = createToolbox(work(), tools, toolsFor([], { usesGpu: false }));
    await tools.writeFile("c.py", "a = 1\nb = 1\nc = 1\n");
    await Promise.all(
      ["a", "b", "c"].map((v) => box.call("Edit", { file_path: "c.py", old_string: `${v} = 1`, new_string: `${v} = 2` })),
    );
    expect(await tools.readFile("c.py")).toBe("a = 2\nb = 2\nc = 2\n");
  });
});
