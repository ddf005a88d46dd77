// The usage report on real SQLite (:memory:, migrated) with hand-made records: exact
// nearest-rank percentiles, what counts as an error, the period's bounds, the filters,
// every grouping, and the JSON that the CLI and the admin API share.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/store/store.ts";
import { UsageRecordStore, type UsageRow } from "../../src/store/usage-records.ts";
import { parseReportTime, usageKeyKnown, usageReport, usageReportJson, usageSummary, type KeyDetails, type UsageQuery } from "../../src/store/usage-report.ts";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0); // 2026-11-25T12:00:00Z
const HOUR = 3_600_000;
let store: Store;
let records: UsageRecordStore;
let n = 0;

beforeEach(() => {
  store = openStore(":memory:");
  records = new UsageRecordStore(store.db);
});
afterEach(() => store.close());

function row(over: Partial<UsageRow> = {}): UsageRow {
  n++;
  return {
    id: `rec-${n}`,
    request_id: `req-${n}`,
    ts: T0,
    key_id: null,
    endpoint: "/v1/chat/completions",
    model: "llama",
    route: "llama",
    backend: "vllm-a",
    upstream_model: "meta-llama/Llama-3",
    stream: false,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    cache_write_tokens: 0,
    usage_source: "backend",
    status: 200,
    error_code: null,
    latency_ms: 1,
    ttft_ms: null,
    retries: 0,
    bytes_in: 10,
    bytes_out: 20,
    client_ip: "127.0.0.1",
    traceparent: null,
    ...over,
  };
}

function insert(...rows: UsageRow[]): void {
  records.insert(rows, false, T0);
}

/** [1, 2, ..., k] in an order that is not sorted, so the report has to sort. */
function shuffled(k: number): number[] {
  const out = Array.from({ length: k }, (_, i) => i + 1);
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31; // a fixed LCG: the same order every run
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const q = (over: Partial<UsageQuery> = {}): UsageQuery => ({ since: T0 - 24 * HOUR, until: T0 + HOUR, by: "model", ...over });

describe("percentiles (nearest rank: the ceil(p*n)-th smallest)", () => {
  test("1..100: p50 is 50 and p99 is 99; 1..10: p50 is 5 and p99 is 10", () => {
    insert(...shuffled(100).map((v) => row({ model: "hundred", latency_ms: v, ttft_ms: v / 10 })));
    insert(...shuffled(10).map((v) => row({ model: "ten", latency_ms: v * 1.5 })));
    const [hundred, ten] = usageReport(store.db, q());
    expect(hundred).toMatchObject({ group: "hundred", requests: 100, latencyMs: { p50: 50, p99: 99 }, ttftMs: { p50: 5, p99: 9.9 } });
    expect(ten).toMatchObject({ group: "ten", requests: 10, latencyMs: { p50: 7.5, p99: 15 } });
  });

  test("one value is both percentiles; of two values p50 is the smaller, p99 the larger", () => {
    insert(row({ model: "one", latency_ms: 42.125 }));
    insert(row({ model: "two", latency_ms: 20 }), row({ model: "two", latency_ms: 10 }));
    const groups = usageReport(store.db, q());
    expect(groups.find((g) => g.group === "one")).toMatchObject({ latencyMs: { p50: 42.125, p99: 42.125 } });
    expect(groups.find((g) => g.group === "two")).toMatchObject({ latencyMs: { p50: 10, p99: 20 } });
  });

  test("ties and 101 values: p50 is the 51st and p99 the 100th value", () => {
    // 50 × 1, 1 × 2, 49 × 3, 1 × 1000: sorted, the 51st is 2 and the 100th is 3
    const values = [...Array(50).fill(1), 2, ...Array(49).fill(3), 1000];
    insert(...values.map((v) => row({ latency_ms: v })));
    expect(usageReport(store.db, q())[0]!.latencyMs).toEqual({ p50: 2, p99: 3 });
  });

  test("TTFT is over the requests that sent a first byte; none sent one: null", () => {
    insert(row({ model: "some", ttft_ms: 5 }), row({ model: "some", ttft_ms: null }), row({ model: "some", ttft_ms: 7 }));
    insert(row({ model: "none", ttft_ms: null }));
    const groups = usageReport(store.db, q());
    expect(groups.find((g) => g.group === "some")!.ttftMs).toEqual({ p50: 5, p99: 7 });
    expect(groups.find((g) => g.group === "none")!.ttftMs).toEqual({ p50: null, p99: null });
  });

  test("the total's percentiles are over every row, not an average of the groups'", () => {
    insert(...shuffled(90).map((v) => row({ model: "a", latency_ms: v, prompt_tokens: 2 })));
    insert(...shuffled(10).map((v) => row({ model: "b", latency_ms: 90 + v, prompt_tokens: 1 })));
    const { groups, total } = usageSummary(store.db, q());
    expect(groups.map((g) => g.latencyMs)).toEqual([
      { p50: 45, p99: 90 },
      { p50: 95, p99: 100 },
    ]);
    expect(total).toMatchObject({ requests: 100, latencyMs: { p50: 50, p99: 99 }, tokens: { prompt: 190, total: 190 } });
  });
});

describe("counts", () => {
  test("errors: status >= 400 or an error code, except 499, which is abandoned", () => {
    insert(
      row({ status: 200 }),
      row({ status: 200, error_code: "upstream_idle_timeout" }), // a stream cut after its first byte
      row({ status: 429, error_code: "rate_limit_exceeded" }),
      row({ status: 502, error_code: "upstream_error" }),
      row({ status: 404, error_code: "model_not_found" }),
      row({ status: 499, error_code: "client_closed_request" }),
      row({ status: 499, error_code: null }),
    );
    expect(usageReport(store.db, q())[0]).toMatchObject({ requests: 7, errors: 4, abandoned: 2 });
  });

  test("tokens: prompt, completion and cached (part of prompt) summed; total = prompt + completion; estimates counted", () => {
    insert(
      row({ prompt_tokens: 100, completion_tokens: 20, cached_tokens: 60 }),
      row({ prompt_tokens: 1_000_000, completion_tokens: 3, usage_source: "estimate" }),
      row({ prompt_tokens: 0, completion_tokens: 0, usage_source: "none", status: 401 }),
    );
    expect(usageReport(store.db, q())[0]).toMatchObject({
      tokens: { prompt: 1_000_100, completion: 23, cached: 60, total: 1_000_123 },
      estimated: 1,
    });
  });

  test("first and last are the times of the earliest and latest request", () => {
    insert(row({ ts: T0 - 5 * HOUR }), row({ ts: T0 - HOUR }), row({ ts: T0 - 3 * HOUR }));
    expect(usageReport(store.db, q())[0]).toMatchObject({ firstTs: T0 - 5 * HOUR, lastTs: T0 - HOUR });
  });
});

describe("the period and the filters", () => {
  test("an empty table or an empty period: no groups and a total of zeros", () => {
    expect(usageSummary(store.db, q())).toEqual({
      groups: [],
      total: {
        requests: 0,
        errors: 0,
        abandoned: 0,
        tokens: { prompt: 0, completion: 0, cached: 0, total: 0 },
        estimated: 0,
        latencyMs: { p50: null, p99: null },
        ttftMs: { p50: null, p99: null },
        firstTs: null,
        lastTs: null,
      },
    });
    insert(row({ ts: T0 - 48 * HOUR }));
    expect(usageReport(store.db, q())).toEqual([]);
  });

  test("since is included, until is not; no until = no upper bound", () => {
    insert(row({ ts: T0 - HOUR - 1, model: "before" }), row({ ts: T0 - HOUR, model: "first" }), row({ ts: T0 - 1, model: "last" }), row({ ts: T0, model: "at-until" }));
    expect(usageReport(store.db, { since: T0 - HOUR, until: T0, by: "model" }).map((g) => g.group).sort()).toEqual(["first", "last"]);
    expect(usageReport(store.db, { since: T0 - HOUR, by: "model" }).map((g) => g.group).sort()).toEqual(["at-until", "first", "last"]);
  });

  test("--key and --model keep only their requests, together too", () => {
    insert(row({ key_id: "key_a", model: "m1", prompt_tokens: 1 }), row({ key_id: "key_a", model: "m2", prompt_tokens: 2 }), row({ key_id: "key_b", model: "m1", prompt_tokens: 4 }), row({ model: "m1", prompt_tokens: 8 }));
    const total = (over: Partial<UsageQuery>) => usageSummary(store.db, q(over)).total.tokens.prompt;
    expect(total({})).toBe(15);
    expect(total({ key: "key_a" })).toBe(3);
    expect(total({ model: "m1" })).toBe(13);
    expect(total({ key: "key_a", model: "m1" })).toBe(1);
    expect(total({ key: "key_nobody" })).toBe(0);
  });
});

describe("groupings", () => {
  test("by model, backend and route: most tokens first; a request that matched no route is under \"\"", () => {
    insert(
      row({ model: "small", backend: "b1", route: "small", prompt_tokens: 1 }),
      row({ model: "big", backend: "b2", route: "big", prompt_tokens: 50 }),
      row({ model: "big", backend: "b1", route: "big", prompt_tokens: 50 }),
      row({ model: "nope", backend: "", route: "", status: 404, error_code: "model_not_found" }),
    );
    expect(usageReport(store.db, q({ by: "model" })).map((g) => [g.group, g.tokens.total])).toEqual([
      ["big", 100],
      ["small", 1],
      ["nope", 0],
    ]);
    expect(usageReport(store.db, q({ by: "backend" })).map((g) => [g.group, g.requests])).toEqual([
      ["b1", 2],
      ["b2", 1],
      ["", 1],
    ]);
    expect(usageReport(store.db, q({ by: "route" })).map((g) => g.group)).toEqual(["big", "small", ""]);
  });

  test("by key: requests without a key are the group null; a key's name and prefix while it exists", () => {
    const { record } = store.keys.create({ name: "team-a" }, T0);
    insert(row({ key_id: record.id, prompt_tokens: 10 }), row({ key_id: "key_deletedlongago", prompt_tokens: 5 }), row({ key_id: null, prompt_tokens: 1 }));
    const groups = usageReport(store.db, q({ by: "key" }));
    expect(groups.map((g) => ({ group: g.group, key: g.key, total: g.tokens.total }))).toEqual([
      { group: record.id, key: { name: "team-a", prefix: record.prefix }, total: 10 },
      { group: "key_deletedlongago", key: null, total: 5 },
      { group: null, key: null, total: 1 },
    ]);
  });

  test("by day: the UTC day of each request, oldest first, split exactly at midnight", () => {
    const midnight = Date.UTC(2026, 10, 25);
    insert(
      row({ ts: midnight - 1, prompt_tokens: 1, latency_ms: 3 }),
      row({ ts: midnight, prompt_tokens: 100, latency_ms: 5 }),
      row({ ts: midnight + 24 * HOUR - 1, prompt_tokens: 100, latency_ms: 7 }),
      row({ ts: midnight - 30 * HOUR, prompt_tokens: 1000 }),
    );
    const groups = usageReport(store.db, { since: midnight - 48 * HOUR, until: midnight + 48 * HOUR, by: "day" });
    expect(groups.map((g) => [g.group, g.requests, g.tokens.total])).toEqual([
      ["2026-11-23", 1, 1000],
      ["2026-11-24", 1, 1],
      ["2026-11-25", 2, 200],
    ]);
    expect(groups[2]!.latencyMs).toEqual({ p50: 5, p99: 7 });
  });

  test("one group: the total is that group's stats", () => {
    insert(row({ latency_ms: 3, prompt_tokens: 2 }), row({ latency_ms: 9, prompt_tokens: 3 }));
    const { groups, total } = usageSummary(store.db, q());
    const { group: _g, key: _k, ...stats } = groups[0]!;
    expect(total).toEqual(stats);
  });
});

test("a key id is known when it is in the keys table or has usage recorded", () => {
  const { record } = store.keys.create({ name: "k" }, T0);
  insert(row({ key_id: "key_gonegonegonegone" }));
  expect(usageKeyKnown(store.db, record.id)).toBe(true);
  expect(usageKeyKnown(store.db, "key_gonegonegonegone")).toBe(true);
  expect(usageKeyKnown(store.db, "key_typo")).toBe(false);
});

describe("parseReportTime", () => {
  test("a duration counts back from now; a date is its 00:00 UTC; a time needs a zone", () => {
    expect(parseReportTime("24h", T0)).toEqual({ ok: true, value: T0 - 24 * HOUR });
    expect(parseReportTime("7d", T0)).toEqual({ ok: true, value: T0 - 7 * 24 * HOUR });
    expect(parseReportTime("2026-01-31", T0)).toEqual({ ok: true, value: Date.UTC(2026, 0, 31) });
    expect(parseReportTime("2026-01-31T12:30:00Z", T0)).toEqual({ ok: true, value: Date.UTC(2026, 0, 31, 12, 30) });
    expect(parseReportTime("2026-01-31T12:30:00+02:00", T0)).toEqual({ ok: true, value: Date.UTC(2026, 0, 31, 10, 30) });
  });

  test("what is not a time says why", () => {
    const problem = (s: string) => {
      const r = parseReportTime(s, T0);
      return r.ok ? null : r.problem;
    };
    expect(problem("yesterday")).toContain('"yesterday" is not a duration or a date');
    expect(problem("2026-02-30")).toContain("is not a duration or a date");
    expect(problem("2026-01-31T12:00:00")).toContain("has no time zone");
    expect(problem("0s")).toContain("is no time at all");
  });
});

describe("usageReportJson", () => {
  test("the shape: period, grouping, filters, groups and total; key groups carry the key's details, never a secret or hash", () => {
    const { record } = store.keys.create({ name: "team-a" }, T0);
    insert(row({ key_id: record.id, prompt_tokens: 7, completion_tokens: 3, latency_ms: 12.5, ttft_ms: 4, ts: T0 - HOUR }));
    const query = { since: T0 - 24 * HOUR, until: T0, by: "key" as const, key: record.id };
    const details = (id: string): KeyDetails | null => (id === record.id ? { id, name: "team-a", prefix: record.prefix, status: "active", used: { total: 10, today: 10, thisMonth: 10 } } : null);
    const json = usageReportJson({ query, summary: usageSummary(store.db, query), keyDetails: details });
    const stats = {
      requests: 1,
      errors: 0,
      abandoned: 0,
      tokens: { prompt: 7, completion: 3, cached: 0, total: 10 },
      estimated: 0,
      latencyMs: { p50: 12.5, p99: 12.5 },
      ttftMs: { p50: 4, p99: 4 },
      first: "2026-11-25T11:00:00.000Z",
      last: "2026-11-25T11:00:00.000Z",
    };
    expect(json).toEqual({
      since: "2026-11-24T12:00:00.000Z",
      until: "2026-11-25T12:00:00.000Z",
      by: "key",
      key: details(record.id),
      model: null,
      groups: [{ group: record.id, key: details(record.id), ...stats }],
      total: stats,
    });
    expect(JSON.stringify(json)).not.toContain(record.hash);
  });
});
