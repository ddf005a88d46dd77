// The event loop's usage writer: each usage result becomes its record's values in the
// store's column order (the same record usageRow describes), batched as the metering
// worker receives them; what the worker stores from a batch reads back as usageRow(u).

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { UsageResult } from "../../src/metering/usage.ts";
import { usageRow, usageValues, UsageWriter } from "../../src/metering/usage-writer.ts";
import { GATHER_MS } from "../../src/metering/worker-protocol.ts";
import type { SqlValue } from "../../src/store/db.ts";
import { openStore, type Store } from "../../src/store/store.ts";
import { rowValues, USAGE_COLUMNS, UsageRecordStore } from "../../src/store/usage-records.ts";

function result(over: Partial<UsageResult> = {}): UsageResult {
  return {
    requestId: "9f2c4e1a7b30-1z",
    startedAt: 1_764_000_000_123,
    keyId: "key_abcdefghijklmnop",
    endpoint: "/v1/chat/completions",
    requestedModel: "llama",
    route: "llama",
    backend: "vllm",
    upstreamModel: "meta-llama/Llama-3.1-8B-Instruct",
    stream: true,
    promptTokens: 120,
    completionTokens: 48,
    cachedTokens: 64,
    cacheWriteTokens: 16,
    totalTokens: 168,
    source: "backend",
    status: 200,
    errorCode: null,
    ttftMs: 12.3456789,
    latencyMs: 150.0004999,
    retries: 0,
    bytesIn: 310,
    bytesOut: 1234,
    clientIp: "::ffff:10.0.3.17",
    traceparent: null,
    ...over,
  };
}

/** Results with every kind of value a record can hold: nulls, false, escapes, non-ASCII. */
const RESULTS: UsageResult[] = [
  result(),
  result({ keyId: null, stream: false, ttftMs: null, status: 502, errorCode: "upstream_http_502", source: "none", promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 }),
  result({ requestedModel: 'mödel "quoted" \\ \n 😀', upstreamModel: "\u2028\u0000", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
  result({ route: "*", backend: "", source: "estimate", latencyMs: 0.0004, ttftMs: 1e-9, retries: 2, endpoint: "/v1/messages" }),
];

const ID = "01a214fa-73dc-74d3-a0d2-114a8d9167f0";

/** What the worker gets: the batch through JSON, as it crosses threads. */
const acrossThreads = (rows: SqlValue[][]): SqlValue[][] => JSON.parse(JSON.stringify(rows)) as SqlValue[][];

describe("usageValues", () => {
  test("are usageRow's values in the store's column order, also once through JSON", () => {
    for (const u of RESULTS) {
      const values = usageValues(u, ID);
      expect(values).toHaveLength(USAGE_COLUMNS.length);
      expect(values).toEqual(rowValues(usageRow(u, ID)));
      expect(acrossThreads([values])[0]).toEqual(rowValues(usageRow(u, ID)));
    }
  });
});

describe("UsageWriter", () => {
  let store: Store;
  beforeEach(() => {
    store = openStore(":memory:");
  });
  afterEach(() => store.close());

  test("a batch leaves at 50 records, the rest on flush; the worker stores them as usageRow describes them", () => {
    const shipped: SqlValue[][][] = [];
    const finals: boolean[] = [];
    const writer = new UsageWriter((rows, final) => (shipped.push(acrossThreads(rows)), finals.push(final)), () => 60_000);
    const results = Array.from({ length: 57 }, (_, i) => RESULTS[i % RESULTS.length]!);
    for (const u of results) writer.record(u);
    expect(shipped.map((b) => b.length)).toEqual([50]);
    writer.flush();
    expect(shipped.map((b) => b.length)).toEqual([50, 7]);
    // a full hand-over may wait in the worker for more; a flush is written at once
    expect(finals).toEqual([false, true]);

    const records = new UsageRecordStore(store.db);
    for (const batch of shipped) records.insertValues(batch, true, Date.now());
    const ids = shipped.flat().map((v) => v[0] as string);
    expect(new Set(ids).size).toBe(results.length);
    const expected = results.map((u, i) => usageRow(u, ids[i]!)).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(records.pending(100)).toEqual(expected);
  });

  test("a full hand-over whose oldest record is nearly due (flush_interval - GATHER_MS) is written at once too", () => {
    const finals: boolean[] = [];
    // an interval shorter than the worker's gathering: every hand-over is due
    const writer = new UsageWriter((_rows, final) => finals.push(final), () => GATHER_MS - 1);
    for (let i = 0; i < 100; i++) writer.record(RESULTS[i % RESULTS.length]!);
    writer.flush();
    expect(finals).toEqual([true, true]);
  });
});
