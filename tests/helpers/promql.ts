import { parser } from "@prometheus-io/lezer-promql";

/** The Prometheus project's own PromQL grammar (what its web UI parses with), failing on the first syntax error. */
const strict = parser.configure({ strict: true });

/** One vector selector of a query: the metric it names and the label names its matchers use. */
export interface Selector {
  metric: string | null;
  labels: string[];
}

/** Grafana's variables, replaced by values of the right shape so the query is plain PromQL. */
export function grafanaToPromql(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, "5m")
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => `var_${a ?? b}`);
}

/**
 * Parses `expr` as PromQL and returns its vector selectors; throws (a SyntaxError naming the position) when it
 * does not parse.
 */
export function selectorsOf(expr: string): Selector[] {
  let tree: ReturnType<typeof strict.parse>;
  try {
    tree = strict.parse(expr);
  } catch (err) {
    throw new SyntaxError(`not PromQL: ${expr}\n  ${(err as Error).message}`);
  }
  const text = (from: number, to: number) => expr.slice(from, to);
  const out: Selector[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.name !== "VectorSelector") return;
      const node = ref.node;
      const id = node.getChild("Identifier");
      let metric = id ? text(id.from, id.to) : null;
      const labels: string[] = [];
      for (const m of node.getChild("LabelMatchers")?.getChildren("UnquotedLabelMatcher") ?? []) {
        const name = m.getChild("LabelName");
        if (!name) continue;
        const label = text(name.from, name.to);
        const value = m.getChild("StringLiteral");
        if (label === "__name__" && value && m.getChild("MatchOp")?.getChild("EqlSingle"))
          metric = JSON.parse(text(value.from, value.to).replace(/^'|'$/g, '"')) as string;
        else labels.push(label);
      }
      out.push({ metric, labels });
    },
  });
  return out;
}

/** The metric names and the label names of their series, from Prometheus text exposition (`/metrics`). */
export function exposedMetrics(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  const add = (name: string) => {
    if (!metrics.has(name)) metrics.set(name, new Set());
    return metrics.get(name) as Set<string>;
  };
  for (const line of text.split("\n")) {
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      add(name);
      if (kind === "histogram") for (const s of ["_bucket", "_sum", "_count"]) add(`${name}${s}`);
      if (kind === "summary") for (const s of ["_sum", "_count"]) add(`${name}${s}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample) continue;
    const labels = add(sample[1] as string);
    for (const m of (sample[2] ?? "").matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(m[1] as string);
  }
  return metrics;
}

/** Series Prometheus makes itself for every target, and the labels it adds to every scraped series. */
export const PROMETHEUS_SERIES = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"];
export const TARGET_LABELS = ["job", "instance", "service"];

/**
 * What is wrong with the queries against the metrics the services expose: names no service exports, and label
 * names a metric's series never carry (checked only for metrics that had series when scraped).
 */
export function unknownNames(queries: { where: string; expr: string }[], exposed: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  for (const { where, expr } of queries) {
    for (const s of selectorsOf(expr)) {
      if (!s.metric) {
        problems.push(`${where}: a selector without a metric name in ${expr}`);
        continue;
      }
      if (PROMETHEUS_SERIES.includes(s.metric)) continue;
      const labels = exposed.get(s.metric);
      if (!labels) {
        problems.push(`${where}: no service exports ${s.metric}`);
        continue;
      }
      if (labels.size === 0) continue;
      for (const l of s.labels)
        if (!labels.has(l) && !TARGET_LABELS.includes(l)) problems.push(`${where}: ${s.metric} has no label ${l}`);
    }
  }
  return problems;
}
