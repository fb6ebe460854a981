import { describe, expect, it } from "vitest";
import { contentTypeFor } from "./artifacts.js";

describe("contentTypeFor", () => {
  it("takes the common types from mime-db and knows the ML files it lacks", () => {
    expect(contentTypeFor("plots/loss.PNG")).toBe("image/png");
    expect(contentTypeFor("report.md")).toBe("text/markdown");
    expect(contentTypeFor("train.log")).toBe("text/plain");
    expect(contentTypeFor("eval.ipynb")).toBe("application/x-ipynb+json");
    expect(contentTypeFor("train.py")).toBe("text/x-python");
    expect(contentTypeFor("features.parquet")).toBe("application/vnd.apache.parquet");
    expect(contentTypeFor("model.pt")).toBe("application/octet-stream");
    expect(contentTypeFor("Makefile")).toBe("application/octet-stream");
  });
});
