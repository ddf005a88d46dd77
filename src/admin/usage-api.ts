// GET /admin/usage (behind admin_token): the usage report of `llmproxy usage --json`,
// with the flags as query parameters (?since=24h&until=...&by=model&key=...&model=...),
// in the same JSON. A key's quota counters (all time, today, this month) are in its
// "key" object, live: they include what this process has debited and not written yet.
//
// The report runs in the metering worker, on its own connection (3.5-5 s for a period
// of a million records, see src/store/usage-report.ts): requests are served meanwhile.
// It includes every record this process finished before the report was asked for.

import type { KeyService } from "../auth/key-service.ts";
import { GatewayError } from "../errors.ts";
import type { ReportResult } from "../metering/worker-protocol.ts";
import { keyStatus } from "../store/key-view.ts";
import { isUsageBy, parseReportTime, USAGE_BY_HINT, usageReportJson } from "../store/usage-report.ts";
import type { KeyDetails, UsageBy, UsageQuery } from "../store/usage-report.ts";

const PARAMS = ["since", "until", "by", "key", "model"] as const;
const DEFAULT_SINCE = "24h";
const DEFAULT_BY: UsageBy = "model";

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError("invalid_request", message, param === undefined ? undefined : { param });
}

/** The query parameters as a report query; every problem named at once. */
function reportQuery(params: URLSearchParams, now: number): UsageQuery & { until: number } {
  const problems: string[] = [];
  const bad: string[] = [];
  const one = (name: string): string | undefined => {
    const all = params.getAll(name);
    if (all.length > 1) {
      problems.push(`${name}: given ${all.length} times; give it once`);
      bad.push(name);
    }
    if (all[0] === "") {
      problems.push(`${name}: empty; leave it out or give a value`);
      bad.push(name);
      return undefined;
    }
    return all[0];
  };
  for (const name of new Set(params.keys())) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      problems.push(`${name}: unknown parameter (parameters: ${PARAMS.join(", ")})`);
      bad.push(name);
    }
  }
  const time = (name: string, value: string | undefined): number | null => {
    if (value === undefined) return null;
    const t = parseReportTime(value, now);
    if (t.ok) return t.value;
    problems.push(`${name}: ${t.problem}`);
    bad.push(name);
    return null;
  };
  const sinceText = one("since") ?? DEFAULT_SINCE;
  const untilText = one("until");
  const since = time("since", sinceText);
  const until = time("until", untilText) ?? now;
  const by = one("by") ?? DEFAULT_BY;
  if (!isUsageBy(by)) {
    problems.push(`by: unknown grouping "${by}"; ${USAGE_BY_HINT}`);
    bad.push("by");
  }
  const key = one("key");
  const model = one("model");
  if (since !== null && problems.length === 0 && since >= until) {
    problems.push(`since: the period is empty: since=${sinceText} (${new Date(since).toISOString()}) is not before ${untilText === undefined ? "now" : `until=${untilText}`} (${new Date(until).toISOString()})`);
    bad.push("since");
  }
  if (problems.length > 0) throw invalid(`Invalid usage query: ${problems.join("; ")}`, bad[0]);
  return { since: since as number, until, by: by as UsageBy, key, model };
}

function liveKeyDetails(keys: KeyService, now: number): (id: string) => KeyDetails | null {
  return (id) => {
    const stored = keys.store.get(id);
    if (stored === null) return null;
    // the index's copy carries the debits written so far; the ledger adds the pending ones
    const used = keys.ledger.used(keys.index.byId.get(id)?.record ?? stored, now);
    return { id, name: stored.name, prefix: stored.prefix, status: keyStatus(stored, now), used: { total: used.total, today: used.today, thisMonth: used.month } };
  };
}

/** Runs a report where it cannot hold up requests (the metering worker). */
export type UsageReporter = (query: UsageQuery) => Promise<ReportResult>;

/** GET /admin/usage: the usage report as JSON (the shape of `llmproxy usage --json`). */
export async function usageApi(req: Request, keys: KeyService, report: UsageReporter, requestId: string): Promise<Response> {
  const now = Date.now();
  const query = reportQuery(new URL(req.url).searchParams, now);
  const result = await report(query);
  if (!result.ok) throw new GatewayError("internal_error", `The usage report failed: ${result.error}`);
  // the worker knows keys by their records and the file's keys table; this thread by its index
  if (query.key !== undefined && !result.keyKnown && keys.store.get(query.key) === null) {
    throw invalid(`Invalid usage query: key: no key with id "${query.key}" and no usage recorded for it.`, "key");
  }
  const body = usageReportJson({ query, summary: result.summary, keyDetails: liveKeyDetails(keys, now) });
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json", "x-request-id": requestId } });
}
