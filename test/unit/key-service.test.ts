// The daemon's key index against a real database file written by another connection
// (the CLI, another daemon, the metering worker): a change to the keys or their counters
// reloads the index at the next poll; usage records and the service's own debits do not
// (the metering worker commits many times a second, and a reload of 10 000 keys is not
// free).

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { KeyService } from "../../src/auth/key-service.ts";
import type { DebitBatch } from "../../src/auth/quota-ledger.ts";
import { Logger } from "../../src/log/logger.ts";
import { openStore, type Store } from "../../src/store/store.ts";
import { UsageRecordStore, type UsageRow } from "../../src/store/usage-records.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("key-service");
let n = 0;
let daemon: Store;
let other: Store;
let svc: KeyService;
const lines: string[] = [];

beforeEach(() => {
  const path = join(dir, `keys-${++n}.db`);
  daemon = openStore(path);
  other = openStore(path);
  svc = new KeyService(daemon.db, daemon.keys, new Logger({ level: "debug", format: "json", write: (l) => lines.push(l) }));
});
afterEach(() => {
  svc.stop();
  daemon.close();
  other.close();
});

function usageRow(id: string): UsageRow {
  return {
    id, request_id: id, ts: Date.now(), key_id: null, endpoint: "/v1/chat/completions", model: "m", route: "m", backend: "b", upstream_model: "m",
    stream: false, prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0, cache_write_tokens: 0, usage_source: "backend", status: 200, error_code: null,
    latency_ms: 1, ttft_ms: 1, retries: 0, bytes_in: 1, bytes_out: 1, client_ip: "127.0.0.1", traceparent: null,
  };
}

describe("KeyService.refreshIfChanged", () => {
  test("usage records written by another connection leave the index as it is", () => {
    const index = svc.index;
    new UsageRecordStore(other.db).insert([usageRow("r1"), usageRow("r2")], true, Date.now());
    svc.refreshIfChanged();
    expect(svc.index).toBe(index);
  });

  test("a key created by another connection is in the index after the next poll", () => {
    const { record } = other.keys.create({ name: "from the CLI" });
    expect(svc.index.byId.has(record.id)).toBe(false);
    svc.refreshIfChanged();
    expect(svc.index.byId.has(record.id)).toBe(true);
  });

  test("a revoke, and another daemon's debits, reload it", () => {
    const { record } = other.keys.create({ name: "shared" });
    svc.refreshIfChanged();
    other.keys.debit([{ keyId: record.id, tokens: 40, at: Date.now() }]);
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.tokensUsed).toBe(40);
    other.keys.revoke(record.id);
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.revokedAt).not.toBeNull();
  });

  test("its own debits do not reload it, even when usage records move data_version after them", () => {
    const { record } = other.keys.create({ name: "busy" });
    svc.refreshIfChanged();
    const index = svc.index;
    svc.ledger.debit(record.id, 25, Date.now());
    svc.flush();
    expect(daemon.keys.get(record.id)!.tokensUsed).toBe(25);
    new UsageRecordStore(other.db).insert([usageRow("r3")], false, Date.now());
    svc.refreshIfChanged();
    expect(svc.index).toBe(index);
  });

  test("a change by another connection just before its own debits is still seen", () => {
    const { record } = other.keys.create({ name: "racing" });
    svc.refreshIfChanged();
    other.keys.revoke(record.id); // not polled yet
    svc.ledger.debit(record.id, 5, Date.now());
    svc.flush();
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.revokedAt).not.toBeNull();
  });
});

describe("KeyService.flush on the event loop", () => {
  test("with the write lock held by another connection it returns at once, keeps the debits, and writes them on a later turn", async () => {
    const { record } = other.keys.create({ name: "contended" });
    svc.refreshIfChanged();
    svc.ledger.debit(record.id, 30, Date.now());
    // the other connection (the metering worker, in the daemon) is inside a write
    other.db.transaction(() => {
      svc.flush();
      expect(other.keys.get(record.id)!.tokensUsed).toBe(0);
    });
    expect(daemon.keys.get(record.id)!.tokensUsed).toBe(0);
    // still counted against the quota meanwhile
    expect(svc.ledger.used(svc.index.byId.get(record.id)!.record, Date.now()).total).toBe(30);
    // the retry a moment later finds the lock free
    for (let i = 0; i < 200 && daemon.keys.get(record.id)!.tokensUsed === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(daemon.keys.get(record.id)!.tokensUsed).toBe(30);
    expect(svc.ledger.takePending()).toEqual([]);
  });

  test("never checkpoints the write-ahead log itself (the metering worker's connection does)", () => {
    const row = (daemon.db.prepare<{ wal_autocheckpoint: number }>("PRAGMA wal_autocheckpoint").get() ?? { wal_autocheckpoint: -1 }).wal_autocheckpoint;
    expect(row).toBe(0);
    expect(other.db.prepare<{ wal_autocheckpoint: number }>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint).toBe(1000);
  });
});

describe("KeyService.refresh: only the keys that changed are read again", () => {
  test("a revoke by another connection replaces that key's entry in place; the others are the same objects", () => {
    const a = other.keys.create({ name: "a" }).record;
    const b = other.keys.create({ name: "b" }).record;
    svc.refreshIfChanged();
    const index = svc.index;
    const entryA = index.byId.get(a.id)!;
    other.keys.revoke(b.id);
    svc.refreshIfChanged();
    expect(svc.index).toBe(index);
    expect(svc.index.byId.get(a.id)).toBe(entryA);
    expect(svc.index.byId.get(b.id)!.record.revokedAt).not.toBeNull();
    expect(lines.some((l) => l.includes('"msg":"keys refreshed"') && l.includes('"keys":1'))).toBe(true);
  });

  test("a rotated secret is found by its new hash, and by the old one only in its grace time", () => {
    const { record } = other.keys.create({ name: "rotating" });
    svc.refreshIfChanged();
    const now = Date.now();
    const rotated = other.keys.rotate(record.id, 60_000, now).record;
    svc.refreshIfChanged();
    expect(svc.index.lookup(rotated.hash, now)?.record.id).toBe(record.id);
    expect(svc.index.lookup(record.hash, now)?.record.id).toBe(record.id);
    expect(svc.index.lookup(record.hash, now + 120_000)).toBeUndefined();
  });

  test("another daemon's debits are read again for that key alone, and this one's unwritten debits still count on top", () => {
    const { record } = other.keys.create({ name: "shared quota" });
    svc.refreshIfChanged();
    svc.ledger.debit(record.id, 7, Date.now()); // ours, not written yet
    other.keys.debit([{ keyId: record.id, tokens: 40, at: Date.now() }]);
    svc.refreshIfChanged();
    const k = svc.index.byId.get(record.id)!;
    expect(k.record.tokensUsed).toBe(40);
    expect(svc.ledger.used(k.record, Date.now()).total).toBe(47);
    // ours written, then read back: counted once
    svc.flush();
    new UsageRecordStore(other.db).insert([usageRow("r-moves-data-version")], false, Date.now());
    svc.refreshIfChanged();
    const again = svc.index.byId.get(record.id)!;
    expect(again.record.tokensUsed).toBe(47);
    expect(svc.ledger.used(again.record, Date.now()).total).toBe(47);
  });

  test("when the log no longer holds the entries past the last one seen, everything is read again", () => {
    const { record } = other.keys.create({ name: "behind" });
    svc.refreshIfChanged();
    other.keys.revoke(record.id);
    other.keys.create({ name: "later" });
    // the log pruned down to its newest entry: the revoke's entry is gone
    other.keys.changeLog.prune(1);
    lines.length = 0;
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.revokedAt).not.toBeNull();
    expect(svc.index.size).toBe(2);
    expect(lines.some((l) => l.includes('"msg":"keys reloaded"'))).toBe(true);
  });
});

describe("KeyService with a writer (the metering worker, in the daemon)", () => {
  /** What the metering worker does with a batch: write it, and say which log entries it made. */
  /** The batches the service hands over from now on, as a writer (the metering worker) gets them. */
  function captureBatches(): DebitBatch[] {
    const sent: DebitBatch[] = [];
    svc.useWriter((b) => sent.push(b));
    return sent;
  }

  function writeAsWorker(batch: DebitBatch): void {
    const from = other.keys.changeLog.last() + 1;
    other.keys.debit(batch.debits);
    svc.debitsWritten(batch.id, from, other.keys.changeLog.last());
  }

  test("a flush hands the batch over; its own log entries are not read again, and the debits count once throughout", () => {
    const { record } = other.keys.create({ name: "handed over" });
    svc.refreshIfChanged();
    const sent = captureBatches();
    svc.ledger.debit(record.id, 12, Date.now());
    svc.flush();
    expect(sent.map((b) => b.debits.map((d) => [d.keyId, d.tokens]))).toEqual([[[record.id, 12]]]);
    const used = () => svc.ledger.used(svc.index.byId.get(record.id)!.record, Date.now()).total;
    expect(used()).toBe(12);
    writeAsWorker(sent[0]!);
    lines.length = 0;
    svc.refreshIfChanged();
    // nothing re-read: the entry is the writer's
    expect(lines.some((l) => l.includes('"msg":"keys refreshed"'))).toBe(false);
    expect(svc.index.byId.get(record.id)!.record.tokensUsed).toBe(0);
    expect(used()).toBe(12);
    // another process changes the key: read again, the written debits with it
    other.keys.update(record.id, { name: "renamed" });
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record).toMatchObject({ name: "renamed", tokensUsed: 12 });
    expect(used()).toBe(12);
  });

  test("while a batch is out, a refresh waits for the writer's answer", () => {
    const { record } = other.keys.create({ name: "waiting" });
    svc.refreshIfChanged();
    const sent = captureBatches();
    svc.ledger.debit(record.id, 3, Date.now());
    svc.flush();
    other.keys.revoke(record.id);
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.revokedAt).toBeNull();
    writeAsWorker(sent[0]!);
    // answered: the revoke is read now
    svc.refreshIfChanged();
    expect(svc.index.byId.get(record.id)!.record.revokedAt).not.toBeNull();
    expect(svc.ledger.used(svc.index.byId.get(record.id)!.record, Date.now()).total).toBe(3);
  });

  test("a batch the writer could not store waits again, and is written here once the writer is gone", () => {
    const { record } = other.keys.create({ name: "failed write" });
    svc.refreshIfChanged();
    const sent = captureBatches();
    svc.ledger.debit(record.id, 5, Date.now());
    svc.flush();
    svc.debitsUnwritten(sent[0]!.id, "disk full");
    expect(lines.filter((l) => l.includes("cannot write quota usage") && l.includes("disk full")).length).toBe(1);
    svc.ledger.debit(record.id, 1, Date.now());
    svc.flush(); // to the writer again, 6 tokens in one batch
    expect(sent.length).toBe(2);
    // failing again: not logged again
    svc.debitsUnwritten(sent[1]!.id, "disk full");
    expect(lines.filter((l) => l.includes("cannot write quota usage")).length).toBe(1);
    svc.flush();
    expect(sent.length).toBe(3);
    svc.closeWriter(); // the writer stopped without confirming: written here
    expect(daemon.keys.get(record.id)!.tokensUsed).toBe(6);
  });
});
