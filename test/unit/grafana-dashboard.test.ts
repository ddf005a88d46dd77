// deploy/grafana-dashboard.json, the Grafana dashboard the README's Deployment section
// imports: it must import cleanly (a ${DS_PROMETHEUS} input, sane panels and layout),
// and every PromQL query in it may name only metrics and labels that
// src/metrics/metrics.ts registers, so that renaming a metric or dropping a label
// without the dashboard fails here instead of showing "No data" in production.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Logger } from "../../src/log/logger.ts";
import { UsageRecorder } from "../../src/metering/recorder.ts";
import type { UsageResult } from "../../src/metering/usage.ts";
import { registry, statusClass } from "../../src/metrics/metrics.ts";

const FILE = fileURLToPath(new URL("../../deploy/grafana-dashboard.json", import.meta.url));
const DS = "${DS_PROMETHEUS}";

// ------------------------------------------------------------------ the dashboard's shape

interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  collapsed?: boolean;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  datasource?: { type?: string; uid?: string };
  query?: string | { query?: string };
  definition?: string;
}
interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid?: string;
  title?: string;
  id?: number | null;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations?: { list: { name?: string; expr?: string; textFormat?: string; datasource?: { type?: string; uid?: string } }[] };
}

const dashboard = JSON.parse(readFileSync(FILE, "utf8")) as Dashboard;

/** Every panel, those inside collapsed rows included (Grafana keeps them in the row). */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...(p.panels ? allPanels(p.panels) : [])]);
}
const panels = allPanels(dashboard.panels);
const contentPanels = panels.filter((p) => p.type !== "row");

/** Every PromQL expression: panel targets and annotations, with the legend that goes with it. */
const queries: { where: string; expr: string; legend: string }[] = [
  ...contentPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? "", legend: t.legendFormat ?? "" }))),
  ...(dashboard.annotations?.list ?? []).filter((a) => a.expr).map((a) => ({ where: `annotation "${a.name}"`, expr: a.expr!, legend: a.textFormat ?? "" })),
];

// ------------------------------------------------------------------ what the registry exports

/** Labels Prometheus adds to every series it scrapes (not the exporter's). */
const TARGET_LABELS = new Set(["instance", "job"]);

/** Series name -> its labels, as the exposition has them (histograms as _bucket, _sum, _count). */
const SERIES = new Map<string, Set<string>>();
/** Series name -> help text of its family. */
const HELP = new Map<string, string>();
for (const m of registry.getMetricsAsArray()) {
  const { name, labelNames, help } = m as unknown as { name: string; labelNames: string[]; help: string };
  const labels = new Set(labelNames);
  const type = (m as unknown as { type?: string }).type ?? m.constructor.name.toLowerCase();
  if (type === "histogram") {
    SERIES.set(`${name}_bucket`, new Set([...labels, "le"]));
    SERIES.set(`${name}_sum`, labels);
    SERIES.set(`${name}_count`, labels);
    for (const s of ["_bucket", "_sum", "_count"]) HELP.set(name + s, help);
  } else {
    SERIES.set(name, labels);
    HELP.set(name, help);
  }
}

/**
 * Label values the code really emits, for the labels a dashboard filters on by literal
 * value: filled by running the usage recorder (below) and from statusClass().
 */
const EMITTED = new Map<string, Set<string>>();

// ------------------------------------------------------------------ a small PromQL reader

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);
const AGGREGATIONS = new Set(["sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values"]);

interface Matcher {
  label: string;
  op: string;
  value: string;
}
interface Selector {
  metric: string;
  matchers: Matcher[];
}
interface Grouping {
  kind: string;
  labels: string[];
  /** Metrics the grouping applies to (inside the aggregation it belongs to). */
  scope: string[];
}
interface Parsed {
  selectors: Selector[];
  groupings: Grouping[];
  metrics: string[];
  /** An aggregation without by(): its result has no labels. */
  bareAggregation: boolean;
  problems: string[];
}

/** The text of the balanced parentheses that open at `open` (without them). */
function balanced(s: string, open: number): string {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")" && --depth === 0) return s.slice(open + 1, i);
  }
  throw new Error(`unbalanced parentheses in ${s}`);
}

function metricNames(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = m[0];
    const after = s.slice(m.index! + word.length);
    if (/^\s*\(/.test(after) || KEYWORDS.has(word.toLowerCase())) continue; // a function or keyword
    out.push(word);
  }
  return out;
}

export function parsePromQL(expr: string): Parsed {
  const problems: string[] = [];
  const selectors: Selector[] = [];
  // range durations ([5m], [$__rate_interval]) carry no names
  let s = expr.replace(/\[[^\]]*\]/g, "");
  // selectors with matchers: keep the metric name, take the matchers out
  s = s.replace(/([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}/g, (_all, metric: string | undefined, body: string) => {
    if (!metric) problems.push(`a selector without a metric name: {${body}}`);
    const matchers: Matcher[] = [];
    const rest = body.replace(/\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/g, (_m, label: string, op: string, value: string) => {
      matchers.push({ label, op, value });
      return "";
    });
    if (rest.trim() !== "") problems.push(`cannot read the matchers {${body}}`);
    selectors.push({ metric: metric ?? "", matchers });
    return ` ${metric ?? ""} `;
  });
  if (/"/.test(s)) problems.push(`a string outside a selector in ${expr}`);
  const groupings: Grouping[] = [];
  const clause = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
  for (const m of s.matchAll(clause)) {
    const kind = m[1]!;
    const labels = m[2]!.split(",").map((l) => l.trim()).filter(Boolean);
    let scopeText = s;
    const end = m.index! + m[0].length;
    const next = s.slice(end).search(/\S/);
    if ((kind === "by" || kind === "without") && next >= 0 && s[end + next] === "(") scopeText = balanced(s, end + next);
    groupings.push({ kind, labels, scope: metricNames(scopeText.replace(clause, " ")) });
  }
  const bare = s.replace(clause, " ");
  const metrics = metricNames(bare);
  const bareAggregation = [...bare.matchAll(/\b([a-z_]+)\s*\(/g)].some((m) => AGGREGATIONS.has(m[1]!)) && !groupings.some((g) => g.kind === "by");
  return { selectors, groupings, metrics, bareAggregation, problems };
}

/** What is wrong with a query against the registry: unknown metrics, labels, values. */
function problemsOf(expr: string, legend = ""): string[] {
  const p = parsePromQL(expr);
  const out = [...p.problems];
  if (p.metrics.length === 0) out.push("names no metric");
  for (const name of p.metrics) if (!SERIES.has(name)) out.push(`metric ${name} is not in src/metrics/metrics.ts`);
  const has = (metric: string, label: string) => TARGET_LABELS.has(label) || (SERIES.get(metric)?.has(label) ?? false);
  for (const sel of p.selectors) {
    for (const m of sel.matchers) {
      if (!has(sel.metric, m.label)) {
        out.push(`label ${m.label} is not a label of ${sel.metric}`);
        continue;
      }
      // a literal value compared with = or != must be one the code emits (or its help names)
      if ((m.op === "=" || m.op === "!=") && !m.value.includes("$")) {
        const emitted = EMITTED.get(m.label);
        const named = new RegExp(`\\b${m.value}\\b`).test(HELP.get(sel.metric) ?? "");
        if (!emitted?.has(m.value) && !named) out.push(`${sel.metric}{${m.label}${m.op}"${m.value}"}: the code never emits ${m.label}="${m.value}"`);
      }
    }
  }
  for (const g of p.groupings) {
    for (const label of g.labels) {
      for (const metric of g.scope) if (!has(metric, label)) out.push(`${g.kind} (${label}): not a label of ${metric}`);
    }
  }
  // a legend can only show labels the result has
  const resultLabels = p.groupings.some((g) => g.kind === "by")
    ? new Set(p.groupings.filter((g) => g.kind === "by").flatMap((g) => g.labels))
    : p.bareAggregation
      ? new Set<string>()
      : new Set([...TARGET_LABELS, ...p.metrics.flatMap((m) => [...(SERIES.get(m) ?? [])])]);
  for (const m of legend.matchAll(/\{\{\s*([\w]+)\s*\}\}/g)) {
    if (!resultLabels.has(m[1]!)) out.push(`legend {{${m[1]}}}: the query's result has no label ${m[1]}`);
  }
  return out;
}

// ------------------------------------------------------------------ the label values the code emits

beforeAll(() => {
  // The recorder's series for a few requests: every status class and token type, a
  // stream and a whole answer, and the "none" backend of a request refused before routing.
  const recorder = new UsageRecorder(new Logger({ level: "error", format: "json", write: () => {} }));
  recorder.accessLog = false;
  const base: UsageResult = {
    requestId: "dash",
    startedAt: 0,
    keyId: null,
    endpoint: "/v1/chat/completions",
    requestedModel: "dashboard-test",
    route: "dashboard-test",
    backend: "dashboard-test",
    upstreamModel: "dashboard-test",
    stream: false,
    promptTokens: 3,
    completionTokens: 2,
    cachedTokens: 1,
    cacheWriteTokens: 0,
    totalTokens: 5,
    source: "backend",
    status: 200,
    errorCode: null,
    ttftMs: 1,
    latencyMs: 2,
    retries: 0,
    bytesIn: 1,
    bytesOut: 1,
    clientIp: "127.0.0.1",
    traceparent: null,
  };
  recorder.record(base);
  recorder.record({ ...base, stream: true });
  recorder.record({ ...base, status: 499 });
  recorder.record({ ...base, status: 503, backend: "", errorCode: "no_backend_available", promptTokens: 0, completionTokens: 0, cachedTokens: 0, ttftMs: null });
  for (const m of registry.getMetricsAsArray()) {
    const values = (m as unknown as { hashMap?: Record<string, { labels: Record<string, string | number> }> }).hashMap ?? {};
    for (const v of Object.values(values)) {
      for (const [label, value] of Object.entries(v.labels ?? {})) {
        if (!EMITTED.has(label)) EMITTED.set(label, new Set());
        EMITTED.get(label)!.add(String(value));
      }
    }
  }
  const classes = EMITTED.get("status_class") ?? new Set<string>();
  for (let status = 100; status < 600; status++) classes.add(statusClass(status));
  EMITTED.set("status_class", classes);
});

// ------------------------------------------------------------------ the tests

describe("the PromQL checker (so that the checks below can fail)", () => {
  test("reads metrics, matchers and groupings", () => {
    const p = parsePromQL('histogram_quantile(0.99, sum by (le, model) (rate(llmproxy_request_duration_seconds_bucket{model=~"$model"}[$__rate_interval])))');
    expect(p.metrics).toEqual(["llmproxy_request_duration_seconds_bucket"]);
    expect(p.selectors).toEqual([{ metric: "llmproxy_request_duration_seconds_bucket", matchers: [{ label: "model", op: "=~", value: "$model" }] }]);
    expect(p.groupings).toEqual([{ kind: "by", labels: ["le", "model"], scope: ["llmproxy_request_duration_seconds_bucket"] }]);
    expect(problemsOf("rate(process_cpu_seconds_total[5m]) and on (instance, job) llmproxy_inflight_requests", "{{instance}}")).toEqual([]);
  });

  test("finds an unknown metric, label, grouping, label value and legend", () => {
    expect(problemsOf("sum(rate(llmproxy_request_total[5m]))")).toEqual(["metric llmproxy_request_total is not in src/metrics/metrics.ts"]);
    expect(problemsOf('sum(rate(llmproxy_retries_total{backend="b"}[5m]))')[0]).toContain("label backend is not a label of llmproxy_retries_total");
    expect(problemsOf("sum by (backend) (rate(llmproxy_retries_total[5m]))")[0]).toContain("by (backend): not a label of llmproxy_retries_total");
    expect(problemsOf("histogram_quantile(0.5, sum by (le) (rate(llmproxy_request_duration_seconds[5m])))")[0]).toContain("llmproxy_request_duration_seconds is not");
    expect(problemsOf('sum(rate(llmproxy_requests_total{status_class="5XX"}[5m]))')[0]).toContain('never emits status_class="5XX"');
    expect(problemsOf("sum(rate(llmproxy_requests_total[5m]))", "{{model}}")[0]).toContain("no label model");
    expect(problemsOf("sum by (model) (rate(llmproxy_requests_total[5m]))", "{{backend}}")[0]).toContain("no label backend");
  });
});

describe("deploy/grafana-dashboard.json", () => {
  test("imports cleanly: a Prometheus datasource input, a uid, no fixed id, a recent schema", () => {
    expect(dashboard.__inputs).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }));
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe("llmproxy");
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.id ?? null).toBeNull();
  });

  test("every panel has a title, and every panel but rows at least one query", () => {
    expect(contentPanels.length).toBeGreaterThan(20);
    for (const p of panels) {
      expect(p.title?.trim(), `panel ${p.id}`).toBeTruthy();
      if (p.type === "row") continue;
      expect(p.targets?.length ?? 0, `panel "${p.title}"`).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `panel "${p.title}": refIds`).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr?.trim(), `panel "${p.title}" ${t.refId}`).toBeTruthy();
    }
  });

  test("panels and queries use the ${DS_PROMETHEUS} input, nothing hard-wired", () => {
    for (const p of contentPanels) {
      expect(p.datasource, `panel "${p.title}"`).toEqual({ type: "prometheus", uid: DS });
      for (const t of p.targets ?? []) expect(t.datasource, `panel "${p.title}" ${t.refId}`).toEqual({ type: "prometheus", uid: DS });
    }
    for (const v of dashboard.templating.list) expect(v.datasource, `variable ${v.name}`).toEqual({ type: "prometheus", uid: DS });
    for (const a of dashboard.annotations?.list ?? []) if (a.expr) expect(a.datasource, `annotation ${a.name}`).toEqual({ type: "prometheus", uid: DS });
  });

  test("panel ids are unique and the panels fit the 24-column grid without overlapping", () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    // panels of a collapsed row are laid out when it opens: check each level on its own
    const levels = [dashboard.panels, ...dashboard.panels.filter((p) => p.collapsed).map((p) => p.panels ?? [])];
    for (const level of levels) {
      const boxes = level.map((p) => ({ title: p.title, ...p.gridPos! }));
      for (const b of boxes) {
        expect(b.w, b.title).toBeGreaterThan(0);
        expect(b.h, b.title).toBeGreaterThan(0);
        expect(b.x + b.w, b.title).toBeLessThanOrEqual(24);
      }
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `"${a.title}" and "${b.title}" overlap`).toBe(false);
        }
      }
    }
  });

  test("the model and backend variables come from label_values of llmproxy_requests_total", () => {
    const byName = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    for (const name of ["model", "backend"]) {
      const v = byName.get(name);
      expect(v, `variable ${name}`).toBeDefined();
      const q = typeof v!.query === "string" ? v!.query : v!.query?.query;
      expect(q).toBe(`label_values(llmproxy_requests_total, ${name})`);
      expect(SERIES.get("llmproxy_requests_total")?.has(name)).toBe(true);
    }
  });

  test("every query names only metrics of src/metrics/metrics.ts, with their labels", () => {
    expect(queries.length).toBeGreaterThan(30);
    const problems = queries.flatMap((q) => problemsOf(q.expr, q.legend).map((p) => `${q.where}: ${p}\n    ${q.expr}`));
    if (problems.length) throw new Error(`dashboard queries that cannot work:\n${problems.join("\n")}`);
  });

  test("every variable a query uses is defined", () => {
    const defined = new Set(dashboard.templating.list.map((v) => v.name));
    for (const q of queries) {
      for (const m of q.expr.matchAll(/\$(\w+)|\$\{(\w+)/g)) {
        const name = m[1] ?? m[2]!;
        if (!name.startsWith("__")) expect(defined.has(name), `${q.where} uses $${name}`).toBe(true);
      }
    }
  });

  test("shows what operators need: each of these metrics is in some query", () => {
    const used = new Set(queries.flatMap((q) => parsePromQL(q.expr).metrics));
    for (const name of [
      "llmproxy_requests_total",
      "llmproxy_request_duration_seconds_bucket",
      "llmproxy_time_to_first_token_seconds_bucket",
      "llmproxy_tokens_total",
      "llmproxy_backend_up",
      "llmproxy_backend_inflight_requests",
      "llmproxy_upstream_errors_total",
      "llmproxy_retries_total",
      "llmproxy_backend_ejections_total",
      "llmproxy_rate_limited_total",
      "llmproxy_webhook_backlog_records",
      "llmproxy_webhook_deliveries_total",
      "llmproxy_webhook_records_delivered_total",
      "llmproxy_usage_records_written_total",
      "llmproxy_usage_records_dropped_total",
      "llmproxy_config_reloads_total",
      "llmproxy_config_last_reload_success_timestamp_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });
});
