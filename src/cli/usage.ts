// `llmproxy usage`: requests, errors, tokens and latency percentiles over a period, per
// key, model, backend, route or UTC day, from the usage records in the database named by
// the config (-c) or by --db. Every flag is checked before the database is opened. The
// daemon writes records every metering.flush_interval (1s by default), so the last
// second may not show yet while it runs (GET /admin/usage includes it).

import type { Command } from "commander";
import { keyStatus } from "../store/key-view.ts";
import type { Store } from "../store/store.ts";
import { usageAt } from "../store/usage.ts";
import { isUsageBy, parseReportTime, USAGE_BY_HINT, usageKeyKnown, usageReportJson, usageSummary } from "../store/usage-report.ts";
import type { KeyDetails, UsageBy, UsageGroup, UsageQuery, UsageStats, UsageSummary } from "../store/usage-report.ts";
import { type DbOptions, type MemoryRefusal, withDbFlags, withStore } from "./database.ts";
import { CliError } from "./exit.ts";

interface UsageFlags extends DbOptions {
  json?: boolean;
  key?: string;
  model?: string;
  since: string;
  until?: string;
  by: string;
}

const HELP = `
Examples:
  llmproxy usage                                 every model, the last 24 hours
  llmproxy usage --by key --since 7d
  llmproxy usage --key key_abcdefghijklmnop --by day --since 2026-01-01 --until 2026-02-01
  llmproxy usage --by backend --model llama-3-8b --json

The period is [--since, --until): a duration back from now (24h, 7d), a UTC date
(2026-01-31 = its 00:00) or a date and time with a zone (2026-01-31T12:00:00Z).
errors: status >= 400 or an error code (a stream cut short), except 499 (the client
went away), counted as abandoned. Percentiles are nearest-rank; latency is over every
request, TTFT over those that sent a first byte.`;

// ---- flags ----------------------------------------------------------------------------

function timeFlag(flag: string, value: string, now: number): number {
  const t = parseReportTime(value, now);
  if (!t.ok) throw new CliError(`${flag}: ${t.problem}`);
  return t.value;
}

function usageQuery(f: UsageFlags, now: number): UsageQuery & { until: number } {
  if (!isUsageBy(f.by)) throw new CliError(`--by: unknown grouping "${f.by}"; ${USAGE_BY_HINT}`);
  const since = timeFlag("--since", f.since, now);
  const until = f.until === undefined ? now : timeFlag("--until", f.until, now);
  if (since >= until) {
    throw new CliError(`the period is empty: --since ${f.since} (${iso(since)}) is not before ${f.until === undefined ? "now" : `--until ${f.until}`} (${iso(until)})`);
  }
  if (f.key !== undefined && f.key.trim() === "") throw new CliError("--key needs a key id (key_...)");
  if (f.model !== undefined && f.model.trim() === "") throw new CliError("--model needs a model name");
  return { since, until, by: f.by as UsageBy, key: f.key, model: f.model };
}

// ---- the database ---------------------------------------------------------------------

const MEMORY: MemoryRefusal = { flag: "holds no usage", config: "keeps no usage once the daemon stops; nothing to report" };

/** A key's details from the store; its counters as stored (the daemon writes them every second). */
function storeKeyDetails(store: Store, now: number): (id: string) => KeyDetails | null {
  return (id) => {
    const r = store.keys.get(id);
    if (r === null) return null;
    const u = usageAt(r, now);
    return { id: r.id, name: r.name, prefix: r.prefix, status: keyStatus(r, now), used: { total: u.total, today: u.today, thisMonth: u.thisMonth } };
  };
}

// ---- the table ------------------------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, "Z");
/** 1234567 → "1,234,567", whatever the locale. */
const count = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const ms = (v: number | null): string => (v === null ? "-" : v.toFixed(1));

const STAT_HEADERS = ["REQUESTS", "ERRORS", "ABANDONED", "PROMPT", "COMPLETION", "CACHED", "TOTAL TOKENS", "ESTIMATED", "P50 MS", "P99 MS", "TTFT P50", "TTFT P99"];

function statCells(s: UsageStats): string[] {
  const t = s.tokens;
  return [
    ...[s.requests, s.errors, s.abandoned, t.prompt, t.completion, t.cached, t.total, s.estimated].map(count),
    ms(s.latencyMs.p50),
    ms(s.latencyMs.p99),
    ms(s.ttftMs.p50),
    ms(s.ttftMs.p99),
  ];
}

function groupCells(by: UsageBy, g: UsageGroup): string[] {
  const name = g.group === null ? "(no key)" : g.group === "" ? "(none)" : g.group;
  if (by !== "key") return [name];
  return [name, g.key?.name ?? "-", g.key?.prefix ?? "-"];
}

function table(by: UsageBy, summary: UsageSummary): string {
  const labels = by === "key" ? ["KEY", "NAME", "PREFIX"] : [by.toUpperCase()];
  const rows = [[...labels, ...STAT_HEADERS], ...summary.groups.map((g) => [...groupCells(by, g), ...statCells(g)])];
  const totalRow = ["TOTAL", ...labels.slice(1).map(() => ""), ...statCells(summary.total)];
  const all = [...rows, totalRow];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  // names left-aligned, numbers right-aligned (so digits line up)
  const line = (r: string[]): string => r.map((c, i) => (i < labels.length ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  const rule = "-".repeat(widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1));
  return [...rows.map(line), rule, line(totalRow)].join("\n");
}

function heading(q: UsageQuery & { until: number }, key: KeyDetails | null): string {
  const filters = [
    ...(q.key !== undefined ? [`key ${q.key}${key ? ` (${key.name})` : ""}`] : []),
    ...(q.model !== undefined ? [`model ${q.model}`] : []),
  ];
  return `Usage by ${q.by}, ${iso(q.since)} to ${iso(q.until)}${filters.length > 0 ? `, ${filters.join(", ")}` : ""}`;
}

// ---- the command ----------------------------------------------------------------------

export function registerUsage(program: Command): void {
  withDbFlags(program.command("usage").description("requests, errors, tokens and latency over a period, by key, model, backend, route or day"))
    .option("--key <id>", "only this key's requests")
    .option("--model <name>", "only requests for this model (the name clients send)")
    .option("--since <when>", "start of the period: a duration back from now, a UTC date, or a date and time with a zone", "24h")
    .option("--until <when>", "end of the period, excluded (default: now)")
    .option("--by <what>", `group by ${USAGE_BY_HINT}`, "model")
    .option("--json", "print JSON on stdout")
    .addHelpText("after", HELP)
    .action(async (f: UsageFlags) => {
      const now = Date.now();
      const q = usageQuery(f, now);
      const text = await withStore(f, MEMORY, (store) => {
        if (q.key !== undefined && !usageKeyKnown(store.db, q.key)) {
          throw new CliError(`--key: no key with id "${q.key}" and no usage recorded for it (database: ${store.db.path}); llmproxy keys list shows the ids`);
        }
        // this connection is the command's own: let SQLite sort the percentile passes on
        // several threads (10-30% faster on 1M records with two cores)
        store.db.exec("PRAGMA threads = 4");
        const summary = usageSummary(store.db, q);
        const details = storeKeyDetails(store, now);
        if (f.json) return JSON.stringify(usageReportJson({ query: q, summary, keyDetails: details }));
        const head = heading(q, q.key === undefined ? null : details(q.key));
        return summary.groups.length === 0 ? `${head}\nno requests in this period (database: ${store.db.path})` : `${head}\n\n${table(q.by, summary)}`;
      });
      process.stdout.write(text + "\n");
    });
}
