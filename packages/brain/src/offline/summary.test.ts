import type { StepResult, UpstreamResult } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { NOT_COMMITTED_PREFIX, SYNTHETIC_METRICS_WARNING } from "./demo-data.js";
import { offlinePlan } from "./planner.js";
import { offlineSummary } from "./summary.js";

const TEXT = "train a churn model on the `crm.customers` table";

function result(metrics: Record<string, number>, warnings: string[]): StepResult {
  return {
    status: "succeeded",
    summary: "Offline ml-engineer: trained.",
    artifacts: [],
    metrics,
    filesChanged: [],
    criteria: [],
    warnings,
  };
}

describe("offline summary", () => {
  it("labels the metrics as synthetic and says when nothing was committed in the team's repository", () => {
    const uncommitted = `${NOT_COMMITTED_PREFIX} on your repository — the work stays uncommitted in the task's worktree`;
    const results: UpstreamResult[] = [
      {
        stepId: "train",
        role: "ml-engineer",
        title: "Train",
        result: result({ val_auc: 0.8, baseline_auc: 0.5, val_accuracy: 0.7, baseline_accuracy: 0.6, test_auc: 0.79 }, [
          SYNTHETIC_METRICS_WARNING,
          uncommitted,
        ]),
      },
    ];
    const summary = offlineSummary({ taskId: "t", text: TEXT, plan: offlinePlan(TEXT), results });
    expect(summary).toContain("not on your data");
    expect(summary).toContain("*Key metrics* (synthetic demo data, not your data): val AUC 0.800");
    expect(summary).toContain(`*Repository*: ${uncommitted}`);
  });

  it("has no repository line when the steps were committed (the demo repository)", () => {
    const results: UpstreamResult[] = [
      { stepId: "train", role: "ml-engineer", title: "Train", result: result({ val_auc: 0.8 }, [SYNTHETIC_METRICS_WARNING]) },
    ];
    const summary = offlineSummary({ taskId: "t", text: TEXT, plan: offlinePlan(TEXT), results });
    expect(summary).not.toContain("*Repository*");
    expect(summary).toContain("synthetic demo data");
  });
});
