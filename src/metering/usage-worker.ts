// The metering worker: a thread of its own, with its own connection to the database,
// that stores usage records and runs the webhook sender. The event loop only hands it
// batches of records' values as JSON text (usage-writer.ts); SQLite writes and the
// webhook's JSON and HTTP never run where requests are served.

import { edges } from "../edges/edges.ts";
import type { LogFields, LogSink } from "../log/logger.ts";
import { migrate } from "../store/migrations.ts";
import { openDatabase } from "../store/sqlite.ts";
import { UsageRecordStore } from "../store/usage-records.ts";
import { KeyChangeLog } from "../store/key-change-log.ts";
import { KeyDebits } from "../store/key-debits.ts";
import { usageKeyKnown, usageSummary, type UsageQuery } from "../store/usage-report.ts";
import type { Db, SqlValue } from "../store/db.ts";
import { WebhookSender, type DeliveryEvents } from "./webhook.ts";
import { GATHER_MS, WRITE_BATCH, type FromWorker, type MeteringSettings, type ReportResult, type ToWorker } from "./worker-protocol.ts";

const parent = edges.threadParent();

const RETENTION_EVERY_MS = 60 * 60_000;
/** The key change log (store/key-change-log.ts) is pruned this often, to its newest KEY_LOG_KEEP entries. */
const KEY_LOG_PRUNE_MS = 60_000;
/** A daemon further behind than this many key changes reads every key again (key-service.ts). */
const KEY_LOG_KEEP = 100_000;
/** Records kept while the database cannot be written; beyond this the oldest go. */
const MAX_KEPT = 1_000_000;

const post = (m: FromWorker) => parent.post(m);

/** Log lines go to the daemon's logger, on the main thread. */
const line =
  (level: "debug" | "info" | "warn" | "error") =>
  (msg: string, fields?: LogFields): void =>
    post({ type: "log", level, msg, fields: fields ?? {} });
const log: LogSink = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };

/** Records (their values) a write failed for: kept and written again, never dropped here. */
let retry: { rows: SqlValue[][]; timer: ReturnType<typeof setTimeout> | null } = { rows: [], timer: null };

let settings: MeteringSettings = { webhook: null, retentionMs: 0 };
let database: Db | null = null;
let store: UsageRecordStore | null = null;
let sender: WebhookSender | null = null;
let close: (() => void) | null = null;
let retention: ReturnType<typeof setInterval> | null = null;
let keyLogPrune: ReturnType<typeof setInterval> | null = null;
let keyDebits: KeyDebits | null = null;
let keyLog: KeyChangeLog | null = null;

function pruneKeyLog(): void {
  if (!database) return;
  try {
    (keyLog ??= new KeyChangeLog(database)).prune(KEY_LOG_KEEP);
  } catch (err) {
    log.error("cannot prune the key change log", { error: String(err) });
  }
}

function cleanup(): void {
  if (!store || settings.retentionMs <= 0) return;
  try {
    const n = store.deleteBefore(Date.now() - settings.retentionMs);
    if (n > 0) log.info("old usage records deleted", { records: n, retention_ms: settings.retentionMs });
  } catch (err) {
    log.error("cannot delete old usage records", { error: String(err) });
  }
}

const events: DeliveryEvents = {
  delivered: (records) => post({ type: "delivery", result: "success", records }),
  failed: () => post({ type: "delivery", result: "failure", records: 0 }),
  backlog: (records) => post({ type: "backlog", records, oldestAt: records > 0 ? (store?.oldestPending() ?? null) : null }),
};

/** Hand-overs gathered for one transaction (worker-protocol.ts: WRITE_BATCH, GATHER_MS). */
let gathered: SqlValue[][] = [];
let gatherTimer: ReturnType<typeof setTimeout> | null = null;

function take(rows: SqlValue[][], final: boolean): void {
  gathered = gathered.length ? gathered.concat(rows) : rows;
  if (final || gathered.length >= WRITE_BATCH) writeGathered();
  else gatherTimer ??= setTimeout(writeGathered, GATHER_MS);
}

function writeGathered(): void {
  if (gatherTimer) clearTimeout(gatherTimer);
  gatherTimer = null;
  const rows = gathered;
  gathered = [];
  write(rows);
}

/** Store rows (and what failed before); on failure keep them all and try again in 1 s. */
function write(rows: SqlValue[][]): void {
  if (!store) return;
  const all = retry.rows.length ? retry.rows.concat(rows) : rows;
  if (all.length === 0) return;
  const webhook = settings.webhook !== null;
  try {
    store.insertValues(all, webhook, Date.now());
    if (retry.rows.length) log.info("usage records are written again", { records: all.length });
    retry.rows = [];
    post({ type: "written", records: all.length });
    if (webhook) sender?.queued(all.length);
  } catch (err) {
    if (retry.rows.length === 0) post({ type: "write_failed", records: all.length, error: String(err) });
    retry.rows = all;
    if (retry.rows.length > MAX_KEPT) {
      // the alternative is running out of memory and losing every record
      const dropped = retry.rows.splice(0, retry.rows.length - MAX_KEPT).length;
      post({ type: "write_failed", records: -dropped, error: "dropped: the database has not been writable for too long" });
    }
    retry.timer ??= setTimeout(() => {
      retry.timer = null;
      write([]);
    }, 1000);
  }
}

/** A usage report, after every row received before it (messages arrive in order). */
function report(query: UsageQuery): ReportResult {
  if (!database) return { ok: false, error: "the usage database is not open" };
  try {
    const keyKnown = query.key === undefined || usageKeyKnown(database, query.key);
    return { ok: true, summary: usageSummary(database, query), keyKnown };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}

parent.onMessage((message) => {
  const m = message as ToWorker;
  switch (m.type) {
    case "init": {
      settings = m.settings;
      const db = openDatabase(m.database);
      // the daemon migrated the file already; an in-memory database is this thread's own
      migrate(db);
      close = () => db.close();
      database = db;
      store = new UsageRecordStore(db);
      sender = new WebhookSender(store, () => settings.webhook, log, events);
      sender.start();
      cleanup();
      retention = setInterval(cleanup, RETENTION_EVERY_MS);
      keyLogPrune = setInterval(pruneKeyLog, KEY_LOG_PRUNE_MS);
      post({ type: "ready", backlog: sender.backlogSize(), oldestAt: store.oldestPending() });
      return;
    }
    case "settings":
      settings = m.settings;
      return;
    case "rows":
      take(JSON.parse(m.json) as SqlValue[][], m.final);
      return;
    case "debits":
      try {
        const db = database;
        if (!db) throw new Error("the database is not open");
        const debits = (keyDebits ??= new KeyDebits(db));
        const changes = (keyLog ??= new KeyChangeLog(db));
        // the log entries the batch makes, in the same transaction: the daemon knows them
        // for its own and does not read those keys again
        const [from, to] = db.transaction(() => {
          const before = changes.last();
          debits.apply(m.debits);
          return [before + 1, changes.last()];
        });
        post({ type: "debited", id: m.id, from, to });
      } catch (err) {
        post({ type: "debit_failed", id: m.id, error: String(err) });
      }
      return;
    case "report":
      writeGathered();
      post({ type: "report", id: m.id, result: report(m.query) });
      return;
    case "stop":
      writeGathered();
      if (retention) clearInterval(retention);
      if (keyLogPrune) clearInterval(keyLogPrune);
      if (retry.timer) clearTimeout(retry.timer);
      if (retry.rows.length) write([]); // a last try for rows that failed before
      void (sender?.stop() ?? Promise.resolve()).then(() => {
        close?.();
        post({ type: "stopped" });
      });
      return;
  }
});
