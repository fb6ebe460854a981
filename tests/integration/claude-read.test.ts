import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBrain, READ_MAX_CHARS } from "@mllead/brain";
import { createLocalTools } from "@mllead/brain/testing";
import { numberedCriteria } from "@mllead/contracts";
import { testStep, testStepWork } from "@mllead/contracts/testing";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { type Conversation, scripted, startFakeAnthropic, toolUse, turn } from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

/** A 1×1 PNG, as a plotting library writes one. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** The blocks of the tool results in the conversation's last user turn, as the server got them. */
function lastResultBlocks(conv: Conversation): unknown[] {
  const last = conv.messages.findLast((m) => m.role === "user");
  if (!last || typeof last.content === "string") return [];
  return last.content
    .filter((b) => b.type === "tool_result")
    .flatMap((b) => (Array.isArray(b.content) ? b.content : [b.content]));
}

describe("Read through the Claude loop", () => {
  it("a 6 MB CSV in a data dir stays far below the context window; a PNG reaches the API as an image in the tool result", async () => {
    const data = await mkdtemp(join(tmpdir(), "mllead-data-"));
    try {
      const rows = ["id,tenure,charges,notes"];
      for (let i = 1; i <= 100_000; i++) rows.push(`${i},${i % 72},${(i % 9000) / 100},customer asked about the invoice again`);
      const csv = `${rows.join("\n")}\n`;
      expect(csv.length).toBeGreaterThan(5 * 1024 * 1024);
      await writeFile(join(data, "train.csv"), csv);
      let csvAnswer = "";
      let plotBlocks: unknown[] = [];
      await using api = await startFakeAnthropic(
        scripted(
          turn(toolUse("Read", { file_path: join(data, "train.csv") })),
          (conv) => {
            csvAnswer = conv.toolResults[0]?.text ?? "";
            return turn(toolUse("Read", { file_path: "plots/loss.png" }));
          },
          (conv) => {
            plotBlocks = lastResultBlocks(conv);
            return turn(
              toolUse("FinishStep", {
                summary: "Looked at the table and the plot",
                criteria: [{ id: "ac1", met: true, evidence: "read both" }],
              }),
            );
          },
        ),
      );
      const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
      await using tools = await createLocalTools({ taskId: "t1", dataDirs: [data] });
      await mkdir(join(tools.root, "plots"));
      await writeFile(join(tools.root, "plots", "loss.png"), PNG);
      const work = testStepWork({
        ...testStep("eda", "analyst", { title: "Look at the data" }),
        acceptanceCriteria: numberedCriteria("the data is described"),
      });
      const result = await brain.runStep({ ...work, brain: "anthropic" }, tools);
      expect(result.status).toBe("succeeded");

      expect(csvAnswer.length).toBeLessThanOrEqual(READ_MAX_CHARS + 500);
      expect(csvAnswer).toMatch(/use offset \d+ to read on\)$/);
      const prompts = api.requests.map((r) => {
        const u = r.reply?.usage;
        return (u?.input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0);
      });
      // The CSV alone would be ~1.5M tokens; the whole request stays well under a quarter of a 200k window.
      expect(Math.max(...prompts)).toBeLessThan(50_000);
      expect(plotBlocks).toEqual([
        { type: "text", text: `plots/loss.png: PNG image, 1×1 px, ${PNG.length} bytes` },
        { type: "image", source: { type: "base64", media_type: "image/png", data: PNG.toString("base64") } },
      ]);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});
