// Usage records in SQLite, and the outbox of those the webhook has not received yet.
// Writes come in batches (one transaction each) from the daemon's usage writer, each
// record as its values in USAGE_COLUMNS order. A batch goes in with one INSERT of many
// rows (and its ids into the outbox with one more): one call into the driver per batch
// instead of one or two per record.

import type { Db, SqlValue, Statement } from "./db.ts";

/** One usage record as stored (and as sent to the webhook). */
export interface UsageRow {
  id: string;
  request_id: string;
  /** Unix ms of the request's arrival. */
  ts: number;
  key_id: string | null;
  endpoint: string;
  model: string;
  route: string;
  backend: string;
  upstream_model: string;
  stream: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** Of prompt_tokens: written to the backend's prompt cache (migration 4). */
  cache_write_tokens: number;
  usage_source: string;
  status: number;
  error_code: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  retries: number;
  bytes_in: number;
  bytes_out: number;
  client_ip: string;
  traceparent: string | null;
}

/** The columns of a record, in the order of a batch's values (see insertValues). */
export const USAGE_COLUMNS = [
  "id",
  "request_id",
  "ts",
  "key_id",
  "endpoint",
  "model",
  "route",
  "backend",
  "upstream_model",
  "stream",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cache_write_tokens",
  "usage_source",
  "status",
  "error_code",
  "latency_ms",
  "ttft_ms",
  "retries",
  "bytes_in",
  "bytes_out",
  "client_ip",
  "traceparent",
] as const;

const COLUMNS = USAGE_COLUMNS;
const ID = COLUMNS.indexOf("id");

type StoredRow = Omit<UsageRow, "stream"> & { stream: number };

/** A record's values as stored, in USAGE_COLUMNS order (stream is 0 or 1). */
export function rowValues(r: UsageRow): SqlValue[] {
  return COLUMNS.map((c) => (c === "stream" ? (r.stream ? 1 : 0) : (r[c] as SqlValue)));
}

function fromStored(r: StoredRow): UsageRow {
  return { ...r, stream: r.stream === 1 };
}

/**
 * Records per multi-row INSERT: a full batch of the writer's (usage-writer.ts), the
 * common case under load. What is left over goes in one record per statement: short
 * batches come from the flush timer, when there is little load. 50 x 24 parameters is
 * far below SQLite's limit (32766).
 */
const ROWS_PER_INSERT = 50;

/** Rows deleted per statement by retention, so a big cleanup never holds the lock long. */
const RETENTION_CHUNK = 5000;

/** The statements whose cost grows with the table, named so a test can check their query plans. */
export const OUTBOX_SQL = {
  // Oldest first by record id (UUIDv7: time-ordered), which walks the outbox's primary
  // key. Ordering by queued_at (no index) sorted the whole outbox for every batch:
  // draining a backlog of 100 000 took ~175 us a record instead of ~6.
  pending: `SELECT ${COLUMNS.map((c) => `r.${c}`).join(", ")} FROM webhook_outbox o JOIN usage_records r ON r.id = o.record_id ORDER BY o.record_id LIMIT ?`,
  // records still owed to the webhook stay, whatever their age
  deleteOld: `DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE ts < ? AND id NOT IN (SELECT record_id FROM webhook_outbox) LIMIT ${RETENTION_CHUNK})`,
  // a delivered batch leaves in one statement, each id found by the outbox's primary key
  delivered: "DELETE FROM webhook_outbox WHERE record_id IN (SELECT value FROM json_each(?))",
} as const;

export class UsageRecordStore {
  private readonly insertMany: Statement<never>;
  private readonly insertOne: Statement<never>;
  private readonly insertOutbox: Statement<never>;
  private readonly selectOutbox: Statement<StoredRow>;
  private readonly deleteOutbox: Statement<never>;
  private readonly countOutbox: Statement<{ n: number }>;
  private readonly oldestOutbox: Statement<{ record_id: string }>;
  private readonly deleteOld: Statement<never>;

  constructor(private readonly db: Db) {
    const insert = (rows: number) =>
      db.prepare<never>(`INSERT OR IGNORE INTO usage_records (${COLUMNS.join(", ")}) VALUES ${Array(rows).fill(`(${COLUMNS.map(() => "?").join(", ")})`).join(", ")}`);
    this.insertMany = insert(ROWS_PER_INSERT);
    this.insertOne = insert(1);
    // the ids as a JSON array: one statement whatever the batch's size
    this.insertOutbox = db.prepare("INSERT OR IGNORE INTO webhook_outbox (record_id, queued_at) SELECT value, ? FROM json_each(?)");
    this.selectOutbox = db.prepare(OUTBOX_SQL.pending);
    this.deleteOutbox = db.prepare(OUTBOX_SQL.delivered);
    this.countOutbox = db.prepare("SELECT COUNT(*) AS n FROM webhook_outbox");
    this.oldestOutbox = db.prepare("SELECT record_id FROM webhook_outbox ORDER BY record_id LIMIT 1");
    this.deleteOld = db.prepare(OUTBOX_SQL.deleteOld);
  }

  /** Store a batch of records (and queue them for the webhook when `outbox`), atomically. */
  insert(rows: readonly UsageRow[], outbox: boolean, now: number): void {
    this.insertValues(rows.map(rowValues), outbox, now);
  }

  /**
   * The same, with each record given as its values (rowValues, USAGE_COLUMNS order), as
   * the metering worker receives them. A record already stored (same id) is skipped, and
   * queued once.
   */
  insertValues(rows: readonly (readonly SqlValue[])[], outbox: boolean, now: number): void {
    this.db.transaction(() => {
      let at = 0;
      for (; at + ROWS_PER_INSERT <= rows.length; at += ROWS_PER_INSERT) {
        // a plain loop: Array.prototype.flat cost V8 more than the insert saves
        const params: SqlValue[] = [];
        for (let i = at; i < at + ROWS_PER_INSERT; i++) for (const v of rows[i]!) params.push(v);
        this.insertMany.run(...params);
      }
      for (; at < rows.length; at++) this.insertOne.run(...rows[at]!);
      if (outbox) this.insertOutbox.run(now, JSON.stringify(rows.map((r) => r[ID])));
    });
  }

  /** The oldest records not delivered yet. */
  pending(limit: number): UsageRow[] {
    return this.selectOutbox.all(limit).map(fromStored);
  }

  /** The webhook took these records. */
  delivered(ids: readonly string[]): void {
    if (ids.length > 0) this.deleteOutbox.run(JSON.stringify(ids));
  }

  backlog(): number {
    return this.countOutbox.get()?.n ?? 0;
  }

  /**
   * When the oldest record still owed to the webhook was made (Unix ms), null when none
   * is: its id is a UUIDv7, whose first 48 bits are that time, and the outbox's primary
   * key gives the smallest id at once.
   */
  oldestPending(): number | null {
    const id = this.oldestOutbox.get()?.record_id;
    if (!id) return null;
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    return Number.isFinite(ms) ? ms : null;
  }

  /** Delete records older than `before` (Unix ms), except those still owed to the webhook. */
  deleteBefore(before: number): number {
    let total = 0;
    for (;;) {
      const n = this.deleteOld.run(before).changes;
      total += n;
      if (n < RETENTION_CHUNK) return total;
    }
  }
}
