// The metering tables of a daemon's SQLite file, read the way an operator (or a billing
// job) would: bun:sqlite straight on the file, once the daemon has stopped or beside it
// (WAL lets a reader in while the daemon writes). After a SIGKILL the first open replays
// the write-ahead log, which needs write access: the file is opened read-write.

import { Database } from "bun:sqlite";
import type { UsageRow } from "../../src/store/usage-records.ts";

/** One row of usage_records, as SQLite returns it (stream is 0/1). */
export type StoredUsage = Omit<UsageRow, "stream"> & { stream: number };

function withDb<T>(path: string, fn: (db: Database) => T): T {
  const db = new Database(path);
  try {
    // the daemon may be writing: wait for its lock rather than fail
    db.run("PRAGMA busy_timeout = 5000");
    return fn(db);
  } finally {
    db.close();
  }
}

export function readUsageRecords(path: string): StoredUsage[] {
  return withDb(path, (db) => db.query<StoredUsage, []>("SELECT * FROM usage_records ORDER BY ts, id").all());
}

/** Record ids still owed to the webhook. */
export function readOutbox(path: string): string[] {
  return withDb(path, (db) => db.query<{ record_id: string }, []>("SELECT record_id FROM webhook_outbox ORDER BY record_id").all().map((r) => r.record_id));
}

/** Records by request id; throws when a request id has more than one record. */
export function byRequestId(rows: readonly StoredUsage[]): Map<string, StoredUsage> {
  const out = new Map<string, StoredUsage>();
  for (const r of rows) {
    if (out.has(r.request_id)) throw new Error(`request ${r.request_id} has more than one usage record: ${JSON.stringify([out.get(r.request_id), r])}`);
    out.set(r.request_id, r);
  }
  return out;
}

/** Write rows straight into the tables (tests that need old records), like another process would. */
export function insertUsageRecords(path: string, rows: readonly StoredUsage[], outbox: readonly string[] = []): void {
  withDb(path, (db) => {
    const cols = Object.keys(rows[0]!) as (keyof StoredUsage)[];
    const insert = db.prepare(`INSERT INTO usage_records (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`);
    const queue = db.prepare("INSERT INTO webhook_outbox (record_id, queued_at) VALUES (?, ?)");
    db.transaction(() => {
      for (const r of rows) insert.run(...cols.map((c) => r[c]));
      for (const id of outbox) queue.run(id, Date.now());
    })();
  });
}
