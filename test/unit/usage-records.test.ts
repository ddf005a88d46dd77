// The usage record store and the webhook outbox on a real SQLite database: what goes in
// comes out once, oldest first; delivered records leave the outbox; retention spares
// what the webhook still owes; and the statements that run per batch never sort or scan
// the whole outbox (a backlog after an outage can hold millions of records).

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/store/store.ts";
import { OUTBOX_SQL, rowValues, UsageRecordStore, type UsageRow } from "../../src/store/usage-records.ts";

let store: Store;
let records: UsageRecordStore;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 25, 12);

beforeEach(() => {
  store = openStore(":memory:");
  records = new UsageRecordStore(store.db);
});
afterEach(() => store.close());

/** Time-ordered ids, as the daemon makes them. */
function row(id: string, over: Partial<UsageRow> = {}): UsageRow {
  return {
    id,
    request_id: `req-${id}`,
    ts: NOW,
    key_id: null,
    endpoint: "/v1/chat/completions",
    model: "llama",
    route: "llama",
    backend: "vllm",
    upstream_model: "meta-llama/Llama-3",
    stream: true,
    prompt_tokens: 3,
    completion_tokens: 5,
    cached_tokens: 1,
    cache_write_tokens: 0,
    usage_source: "backend",
    status: 200,
    error_code: null,
    latency_ms: 12.5,
    ttft_ms: 1.25,
    retries: 0,
    bytes_in: 10,
    bytes_out: 20,
    client_ip: "127.0.0.1",
    traceparent: null,
    ...over,
  };
}

function plan(sql: string): string {
  const rows = store.db.prepare<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split("?").slice(1).map(() => 0));
  return rows.map((r) => r.detail).join("\n");
}

describe("UsageRecordStore", () => {
  test("a record comes back from the outbox as it went in (booleans and nulls included)", () => {
    const r = row("0001", { key_id: "key_a", error_code: "upstream_error", ttft_ms: null, stream: false });
    records.insert([r], true, NOW);
    expect(records.pending(10)).toEqual([r]);
  });

  test("the outbox gives the oldest ids first, in batches, and delivered ones leave it", () => {
    // inserted out of order: a retried batch can carry older ids than the last one written
    records.insert([row("0003"), row("0004")], true, NOW);
    records.insert([row("0001"), row("0002")], true, NOW + 1);
    expect(records.backlog()).toBe(4);
    const first = records.pending(3).map((r) => r.id);
    expect(first).toEqual(["0001", "0002", "0003"]);
    records.delivered(first);
    expect(records.backlog()).toBe(1);
    expect(records.pending(3).map((r) => r.id)).toEqual(["0004"]);
  });

  test("without a webhook nothing is queued; a record written twice is stored and queued once", () => {
    records.insert([row("0001")], false, NOW);
    expect(records.backlog()).toBe(0);
    records.insert([row("0002"), row("0002")], true, NOW);
    expect(records.backlog()).toBe(1);
    expect(store.db.prepare<{ n: number }>("SELECT COUNT(*) AS n FROM usage_records").get()?.n).toBe(2);
  });

  test("a batch longer than one INSERT is stored and queued whole, a record in it twice once", () => {
    // 50 records a multi-row INSERT (the writer's batch), the rest one by one
    const rows = Array.from({ length: 123 }, (_, i) => row(String(1000 + i), { stream: i % 2 === 0, key_id: i % 3 ? `key_${i}` : null }));
    records.insert([...rows, rows[7]!, rows[77]!], true, NOW);
    expect(records.backlog()).toBe(123);
    expect(records.pending(1000)).toEqual(rows);
  });

  test("records given as values (what the metering worker receives) are stored as the rows they stand for", () => {
    const rows = [row("0001"), row("0002", { stream: false, key_id: "key_a", error_code: "upstream_http_502", ttft_ms: null, traceparent: "00-ab-cd-01" })];
    records.insertValues(JSON.parse(JSON.stringify(rows.map(rowValues))), true, NOW);
    expect(records.pending(10)).toEqual(rows);
  });

  test("retention deletes old records except those the webhook has not received", () => {
    records.insert([row("0001", { ts: NOW - 10 * DAY }), row("0002", { ts: NOW - 10 * DAY })], false, NOW);
    records.insert([row("0003", { ts: NOW - 10 * DAY })], true, NOW);
    records.insert([row("0004", { ts: NOW })], false, NOW);
    expect(records.deleteBefore(NOW - DAY)).toBe(2);
    const left = store.db.prepare<{ id: string }>("SELECT id FROM usage_records ORDER BY id").all().map((r) => r.id);
    expect(left).toEqual(["0003", "0004"]);
    // once delivered, it goes the next time
    records.delivered(["0003"]);
    expect(records.deleteBefore(NOW - DAY)).toBe(1);
  });

  test("the next batch is read along the outbox's primary key: no sort of the whole outbox", () => {
    const p = plan(OUTBOX_SQL.pending);
    expect(p).not.toContain("TEMP B-TREE");
    expect(p).toMatch(/SCAN o USING (COVERING )?INDEX sqlite_autoindex_webhook_outbox_1/);
    expect(p).toMatch(/SEARCH r USING INDEX sqlite_autoindex_usage_records_1 \(id=\?\)/);
  });

  test("a delivered batch is deleted by the outbox's key, never by a scan of the outbox", () => {
    const p = plan(OUTBOX_SQL.delivered);
    expect(p).toMatch(/SEARCH webhook_outbox USING (COVERING )?INDEX sqlite_autoindex_webhook_outbox_1 \(record_id=\?\)/);
    expect(p).not.toMatch(/SCAN webhook_outbox/);
  });

  test("retention finds old records by the ts index and checks the outbox by its key", () => {
    const p = plan(OUTBOX_SQL.deleteOld);
    expect(p).toContain("USING INDEX usage_records_ts (ts<?)");
    expect(p).not.toMatch(/SCAN webhook_outbox(?! USING)/);
    expect(p).not.toContain("TEMP B-TREE");
  });
});
