import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exposedMetrics, grafanaToPromql, selectorsOf, unknownNames } from "../helpers/promql.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");
const alerts = parse(read("infra/prometheus/alerts.yml")) as { groups: { name: string; rules: Rule[] }[] };
const prometheus = parse(read("infra/prometheus/prometheus.yml")) as {
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs?: { targets: string[]; labels?: { service?: string } }[] }[];
};
const dashboard = JSON.parse(read("infra/grafana/mllead-dashboard.json")) as {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown; definition?: string }[] };
};

/** Every PromQL query of the alert rules and the dashboard, with where it is. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const g of alerts.groups)
    for (const r of g.rules) out.push({ where: `alerts.yml ${g.name}/${r.alert ?? r.record}`, expr: r.expr });
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? [])
        if (t.expr) out.push({ where: `dashboard panel "${p.title}"`, expr: grafanaToPromql(t.expr) });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    // Grafana's label_values(<selector>, <label>): the selector is PromQL.
    const selector = /^label_values\((.+),\s*\w+\)$/.exec(v.definition ?? "")?.[1];
    if (selector) out.push({ where: `dashboard variable ${v.name}`, expr: selector });
  }
  return out;
}

const TASK = "train a baseline on the churn table and compare it with last week's model";

describe("alerts, dashboard and scrape config (infra/prometheus, infra/grafana)", () => {
  it("every alert expression and dashboard query parses with Prometheus's PromQL grammar", () => {
    const all = queries();
    expect(all.length).toBeGreaterThan(40);
    for (const q of all) expect(() => selectorsOf(q.expr), q.where).not.toThrow();
    // The check is real: a syntax error (an unclosed bracket, an unknown function) is caught.
    expect(() => selectorsOf("sum(rate(mllead_steps_total[5m])")).toThrow(SyntaxError);
    expect(() => selectorsOf("rates(mllead_steps_total[5m])")).toThrow(SyntaxError);
    expect(() => selectorsOf('up{job="mllead" == 0')).toThrow(SyntaxError);
  });

  it("alert rules name, grade and explain themselves; the scrape config loads them and names every service", () => {
    const names = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(new Set(names).size).toBe(names.length);
    for (const g of alerts.groups)
      for (const r of g.rules) {
        expect(r.alert, g.name).toMatch(/^Mllead[A-Z]\w+$/);
        expect(["page", "ticket"], r.alert).toContain(r.labels?.severity);
        expect(r.annotations?.summary, r.alert).toBeTruthy();
        if (r.for) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      }
    expect(prometheus.rule_files).toContain("alerts.yml");
    const job = prometheus.scrape_configs.find((j) => j.job_name === "mllead");
    expect(job?.static_configs?.map((s) => s.labels?.service).sort()).toEqual([...SERVICE_NAMES].sort());
    // The alerts and the dashboard select the job by that name.
    for (const q of queries()) if (q.expr.includes("job=")) expect(q.expr, q.where).toContain('job="mllead"');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.templating.list.find((v) => v.type === "datasource")?.query).toBe("prometheus");
  });

  it("every metric and label they name is exported by the running services after a task has run", {
    timeout: 360_000,
  }, async () => {
    // The links name the gateway's public address; the test reaches the same gateway on its local one.
    const PUBLIC = "https://mllead.public.test";
    await using stack = await startStack({
      MLLEAD_PUBLIC_URL: PUBLIC,
      MLLEAD_ARTIFACT_LINK_SECRET: randomBytes(32).toString("hex"),
    });
    const { sandbox } = stack;
    const sent = await sandbox.mention(TASK);
    const thread = () => sandbox.thread(sandbox.defaultChannel, sent.ts);
    const find = (kind: string) => botMessages(thread()).find((m) => kindOf(m) === kind);
    await waitFor(() => find("task.planned") !== undefined, 60_000, "the plan");
    await sandbox.click(find("task.planned")?.ts as string, "mllead_approve");
    await waitFor(() => find("task.completed") !== undefined, 240_000, "the final summary");

    // A link in the thread downloads through the gateway process (a download also gives its counter a series).
    const text = botMessages(thread()).map(visibleText).join("\n");
    const href = /<(https:\/\/mllead\.public\.test\/artifacts\/[^|>]+)\|/.exec(
      botMessages(thread())
        .map((m) => JSON.stringify(m.blocks ?? []))
        .join("\n"),
    )?.[1];
    expect(href, text).toBeDefined();
    // The closing summary links the task's artifacts too.
    expect(JSON.stringify(find("task.completed")?.blocks ?? [])).toContain(`<${PUBLIC}/artifacts/tasks/`);
    const gateway = await stack.services.get("slack-gateway")?.ready;
    const download = await fetch(`${gateway}${(href as string).slice(PUBLIC.length)}`);
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(0);

    const exposed = new Map<string, Set<string>>();
    for (const [name, s] of stack.services) {
      const res = await fetch(`${await s.ready}/metrics`);
      expect(res.status, name).toBe(200);
      for (const [metric, labels] of exposedMetrics(await res.text())) {
        const known = exposed.get(metric) ?? new Set<string>();
        for (const l of labels) known.add(l);
        exposed.set(metric, known);
      }
    }
    expect(unknownNames(queries(), exposed)).toEqual([]);

    // The check can fail: a rule naming a metric nobody exports, or a label a metric does not have.
    expect(
      unknownNames(
        [
          { where: "made up", expr: "rate(mllead_no_such_metric_total[5m]) > 0" },
          { where: "wrong label", expr: 'mllead_steps_total{stat="failed"}' },
        ],
        exposed,
      ),
    ).toEqual(["made up: no service exports mllead_no_such_metric_total", "wrong label: mllead_steps_total has no label stat"]);
  });
});
