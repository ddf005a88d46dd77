// The usage report over usage_records: per key, model, backend, route or UTC day, the
// requests, errors, tokens and p50/p99 latency and time to first token of a period.
// `llmproxy usage` and GET /admin/usage both answer with it, in the same JSON.
//
// Percentiles are nearest-rank (the ceil(p*n)-th smallest value, 1-based) and computed
// in SQLite, so memory stays bounded whatever the period holds: one aggregate query gives
// each group's count n (GROUP BY: SQLite's sorter, which spills to temp files), then per
// metric one window query numbers each group's values in order (row_number() OVER
// (PARTITION BY g ORDER BY v)) and returns only the rows whose number is one of the
// wanted ranks, passed in as JSON. The JS side only ever holds the groups. The total
// over all groups needs one more such pass per metric (skipped when there is one group:
// it is the total). Measured on 1M records (2 cores): aggregate 0.6 s, each percentile
// pass about 1 s; groups and total together 3.5-5 s, the process under 60 MB RSS.
// SQLite's own percentile() would be faster but keeps every value of a group in memory,
// is not nearest-rank, and is not in every build (better-sqlite3 under Node).

import type { Db } from "./db.ts";
import { parseAbsoluteTime, parseDuration } from "../config/units.ts";

export const USAGE_BY = ["key", "model", "backend", "route", "day"] as const;
export type UsageBy = (typeof USAGE_BY)[number];

export interface UsageQuery {
  /** Unix ms, inclusive. */
  since: number;
  /** Unix ms, exclusive; none = no upper bound. */
  until?: number;
  by: UsageBy;
  /** Only this key's requests. */
  key?: string;
  /** Only requests for this model (the name the client sent). */
  model?: string;
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

export interface UsageStats {
  requests: number;
  /**
   * Requests that failed: status >= 400, or an error code on a 2xx (a stream cut after
   * its first byte), except status 499, counted apart as `abandoned`.
   */
  errors: number;
  /** The client went away before the answer ended (status 499). */
  abandoned: number;
  tokens: { prompt: number; completion: number; cached: number; total: number };
  /** Requests whose tokens were estimated (the backend reported no usage). */
  estimated: number;
  /** ms from arrival to the end of the answer, over every request. */
  latencyMs: Percentiles;
  /** ms from arrival to the first byte sent, over the requests that sent one. */
  ttftMs: Percentiles;
  /** Unix ms of the first and last request; null when there is none. */
  firstTs: number | null;
  lastTs: number | null;
}

export interface UsageGroup extends UsageStats {
  /** The key id (null: requests without a key), model, backend, route ("" = none matched) or YYYY-MM-DD. */
  group: string | null;
  /** by key: the key's name and prefix while it exists in the keys table, else null. */
  key?: { name: string; prefix: string } | null;
}

export interface UsageSummary {
  groups: UsageGroup[];
  total: UsageStats;
}

const DAY_MS = 86_400_000;

// Group expressions, never built from input. A day is the integer day number (cheaper
// than strftime on every row), formatted in JS. ifnull: the rank filter below compares
// with IN, where NULL matches nothing; no key id is "".
const GROUP_SQL: Record<UsageBy, string> = {
  key: "ifnull(key_id, '')",
  model: "model",
  backend: "backend",
  route: "route",
  day: `(ts / ${DAY_MS})`,
};

interface AggRow {
  g: string | number;
  requests: number;
  errors: number;
  abandoned: number;
  prompt: number;
  completion: number;
  cached: number;
  estimated: number;
  ttft_n: number;
  first_ts: number;
  last_ts: number;
}

function where(q: UsageQuery): { sql: string; params: (string | number)[] } {
  const parts = ["ts >= ?"];
  const params: (string | number)[] = [q.since];
  if (q.until !== undefined) {
    parts.push("ts < ?");
    params.push(q.until);
  }
  if (q.key !== undefined) {
    parts.push("key_id = ?");
    params.push(q.key);
  }
  if (q.model !== undefined) {
    parts.push("model = ?");
    params.push(q.model);
  }
  return { sql: parts.join(" AND "), params };
}

/** The nearest rank of p% among n values: ceil(p*n/100), in integers. */
function rank(p: number, n: number): number {
  return Math.floor((p * n + 99) / 100);
}

/** p50 and p99 of column `col` per group, given each group's count of non-null values. */
function percentiles(db: Db, groupSql: string, col: string, q: UsageQuery, counts: Map<string | number, number>): Map<string | number, Percentiles> {
  const out = new Map<string | number, Percentiles>();
  const wanted: [string | number, number][] = [];
  for (const [g, n] of counts) {
    if (n === 0) continue;
    wanted.push([g, rank(50, n)], [g, rank(99, n)]);
    out.set(g, { p50: null, p99: null });
  }
  if (wanted.length === 0) return out;
  const w = where(q);
  const rows = db
    .prepare<{ g: string | number; v: number; rn: number }>(
      `SELECT g, v, rn FROM (
         SELECT g, v, row_number() OVER (PARTITION BY g ORDER BY v) AS rn
         FROM (SELECT ${groupSql} AS g, ${col} AS v FROM usage_records WHERE ${w.sql} AND ${col} IS NOT NULL)
       ) WHERE (g, rn) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
    )
    .all(...w.params, JSON.stringify(wanted));
  for (const r of rows) {
    const p = out.get(r.g);
    if (!p) continue;
    const n = counts.get(r.g) ?? 0;
    if (r.rn === rank(50, n)) p.p50 = r.v;
    if (r.rn === rank(99, n)) p.p99 = r.v;
  }
  return out;
}

const NO_PERCENTILES: Percentiles = { p50: null, p99: null };

function aggregate(db: Db, groupSql: string, q: UsageQuery): AggRow[] {
  const w = where(q);
  return db
    .prepare<AggRow>(
      `SELECT ${groupSql} AS g,
         count(*) AS requests,
         sum(status <> 499 AND (status >= 400 OR error_code IS NOT NULL)) AS errors,
         sum(status = 499) AS abandoned,
         sum(prompt_tokens) AS prompt,
         sum(completion_tokens) AS completion,
         sum(cached_tokens) AS cached,
         sum(usage_source = 'estimate') AS estimated,
         count(ttft_ms) AS ttft_n,
         min(ts) AS first_ts,
         max(ts) AS last_ts
       FROM usage_records WHERE ${w.sql} GROUP BY g`,
    )
    .all(...w.params);
}

/** The aggregates of `rows` (grouped by `groupSql`) with their percentiles, keyed by the raw SQL value. */
function withPercentiles(db: Db, groupSql: string, q: UsageQuery, rows: AggRow[]): Map<string | number, UsageStats> {
  const latency = percentiles(db, groupSql, "latency_ms", q, new Map(rows.map((r) => [r.g, r.requests])));
  const ttft = percentiles(db, groupSql, "ttft_ms", q, new Map(rows.map((r) => [r.g, r.ttft_n])));
  return new Map(
    rows.map((r) => [
      r.g,
      {
        requests: r.requests,
        errors: r.errors,
        abandoned: r.abandoned,
        tokens: { prompt: r.prompt, completion: r.completion, cached: r.cached, total: r.prompt + r.completion },
        estimated: r.estimated,
        latencyMs: latency.get(r.g) ?? NO_PERCENTILES,
        ttftMs: ttft.get(r.g) ?? NO_PERCENTILES,
        firstTs: r.first_ts,
        lastTs: r.last_ts,
      },
    ]),
  );
}

/** One row adding up the groups' rows, under the group value "". */
function sumRows(rows: AggRow[]): AggRow {
  const sum = (f: (r: AggRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
  return {
    g: "",
    requests: sum((r) => r.requests),
    errors: sum((r) => r.errors),
    abandoned: sum((r) => r.abandoned),
    prompt: sum((r) => r.prompt),
    completion: sum((r) => r.completion),
    cached: sum((r) => r.cached),
    estimated: sum((r) => r.estimated),
    ttft_n: sum((r) => r.ttft_n),
    first_ts: Math.min(...rows.map((r) => r.first_ts)),
    last_ts: Math.max(...rows.map((r) => r.last_ts)),
  };
}

function dayName(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

function groupsOf(db: Db, q: UsageQuery, rows: AggRow[]): UsageGroup[] {
  const groups: UsageGroup[] = [];
  const keyInfo = q.by === "key" ? db.prepare<{ name: string; prefix: string }>("SELECT name, prefix FROM keys WHERE id = ?") : null;
  for (const [g, stats] of withPercentiles(db, GROUP_SQL[q.by], q, rows)) {
    if (q.by === "day") groups.push({ group: dayName(g as number), ...stats });
    else if (keyInfo) {
      const id = g === "" ? null : String(g);
      groups.push({ group: id, key: id === null ? null : keyInfo.get(id), ...stats });
    } else groups.push({ group: String(g), ...stats });
  }
  if (q.by === "day") return groups.sort((a, b) => ((a.group ?? "") < (b.group ?? "") ? -1 : 1));
  return groups.sort((a, b) => b.tokens.total - a.tokens.total || b.requests - a.requests || (a.group ?? "").localeCompare(b.group ?? ""));
}

/**
 * The period's requests grouped by `q.by`: by total tokens, most first (then requests,
 * then name); by day, oldest day first. Groups without requests do not appear.
 */
export function usageReport(db: Db, q: UsageQuery): UsageGroup[] {
  return groupsOf(db, q, aggregate(db, GROUP_SQL[q.by], q));
}

const EMPTY: UsageStats = {
  requests: 0,
  errors: 0,
  abandoned: 0,
  tokens: { prompt: 0, completion: 0, cached: 0, total: 0 },
  estimated: 0,
  latencyMs: NO_PERCENTILES,
  ttftMs: NO_PERCENTILES,
  firstTs: null,
  lastTs: null,
};

/**
 * The groups and the total over all of them. The total's sums come from the groups; its
 * percentiles need their own pass over the rows, unless there is one group.
 */
export function usageSummary(db: Db, q: UsageQuery): UsageSummary {
  const rows = aggregate(db, GROUP_SQL[q.by], q);
  const groups = groupsOf(db, q, rows);
  if (groups.length === 0) return { groups, total: EMPTY };
  if (groups.length === 1) {
    const { group: _g, key: _k, ...stats } = groups[0]!;
    return { groups, total: stats };
  }
  return { groups, total: withPercentiles(db, "''", q, [sumRows(rows)]).get("") ?? EMPTY };
}

/**
 * Whether usage can be asked of this key id: it is in the keys table, or requests were
 * made with it (a key deleted since). A filter on an id that is neither is a typo.
 */
export function usageKeyKnown(db: Db, id: string): boolean {
  return (
    db.prepare("SELECT 1 FROM keys WHERE id = ?").get(id) !== null ||
    // usage_records_key_ts answers this from the index
    db.prepare("SELECT 1 FROM usage_records WHERE key_id = ? LIMIT 1").get(id) !== null
  );
}

// ---- input: the period, as the CLI flags and the admin query parameters give it --------

export const USAGE_BY_HINT = `one of ${USAGE_BY.join(", ")}`;
export const REPORT_TIME_HINT = "use a duration back from now (24h, 7d, 90m), a UTC date (2026-01-31 = its 00:00), or a date and time with a zone (2026-01-31T12:00:00Z)";

/**
 * A bound of the period: "24h" (that long before `now`), "2026-01-31" (00:00 UTC that
 * day) or "2026-01-31T12:00:00Z" (a zone is required: without one the same text means
 * different instants on different machines). Unix ms, or the problem in words.
 */
export function parseReportTime(s: string, now: number): { ok: true; value: number } | { ok: false; problem: string } {
  const duration = parseDuration(s);
  if (duration !== null) {
    if (duration <= 0) return { ok: false, problem: `"${s}" is no time at all; ${REPORT_TIME_HINT}` };
    return { ok: true, value: now - duration };
  }
  const at = parseAbsoluteTime(s);
  if (at !== null) return { ok: true, value: at };
  const noZone = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s);
  return { ok: false, problem: noZone ? `"${s}" has no time zone: add Z (UTC) or an offset like +02:00` : `"${s}" is not a duration or a date; ${REPORT_TIME_HINT}` };
}

export function isUsageBy(s: string): s is UsageBy {
  return (USAGE_BY as readonly string[]).includes(s);
}

// ---- output: the JSON both the CLI (--json) and GET /admin/usage answer with -----------

/** What the caller knows of a key beyond the report: its status and quota counters. */
export interface KeyDetails {
  id: string;
  name: string;
  prefix: string;
  status: string;
  /** Tokens counted against its quotas: all time, this UTC day and month. */
  used: { total: number; today: number; thisMonth: number };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function statsJson(s: UsageStats): Record<string, unknown> {
  const { firstTs, lastTs, ...rest } = s;
  return { ...rest, first: iso(firstTs), last: iso(lastTs) };
}

export interface ReportJsonInput {
  query: UsageQuery & { until: number };
  summary: UsageSummary;
  /** The key's details, or null when it is not in the keys table (any more). */
  keyDetails: (id: string) => KeyDetails | null;
}

/** {"since","until","by","key","model","groups":[...],"total":{...}}; never a secret or a hash. */
export function usageReportJson({ query, summary, keyDetails }: ReportJsonInput): Record<string, unknown> {
  return {
    since: iso(query.since),
    until: iso(query.until),
    by: query.by,
    key: query.key === undefined ? null : (keyDetails(query.key) ?? { id: query.key }),
    model: query.model ?? null,
    groups: summary.groups.map(({ group, key: _k, ...stats }) => ({
      group,
      ...(query.by === "key" ? { key: group === null ? null : keyDetails(group) } : {}),
      ...statsJson(stats),
    })),
    total: statsJson(summary.total),
  };
}
