// Messages between the daemon's event loop and the metering worker (usage-worker.ts),
// the thread that does every database write and webhook POST of usage records, so that
// none of it ever stalls a request.

import type { WebhookSettings } from "../config/types.ts";
import type { LogLevel } from "../config/types.ts";
import type { UsageQuery, UsageSummary } from "../store/usage-report.ts";
import type { UsageDebit } from "../store/types.ts";

export interface MeteringSettings {
  webhook: WebhookSettings | null;
  retentionMs: number;
}

export type ToWorker =
  | { type: "init"; database: string; settings: MeteringSettings }
  | { type: "settings"; settings: MeteringSettings }
  /**
   * Records to store (and queue for the webhook when one is set): a JSON array of each
   * record's values in USAGE_COLUMNS order (usage-writer.ts's usageValues), which the
   * worker binds as they are. JSON text, not a structured clone: of objects, a clone
   * cost 4.3 us a record (both threads). Arrays, not objects: they stringify and parse
   * for less. Measured per record, event loop / worker: Bun 0.9 / 0.8 us (objects
   * 1.1 / 1.1; a clone of the arrays 1.2 / 0.6), Node 1.3 / 1.1 (objects 2.1 / 1.9; a
   * clone of the arrays 0.8 / 0.7, cheaper there, but not on Bun's event loop).
   *
   * The worker gathers these into transactions of up to WRITE_BATCH records, for at most
   * GATHER_MS; `final` (a batch the flush timer, a report or the shutdown sent, or one
   * whose oldest record is nearly due) is written at once, so that a record still
   * reaches the file within metering.flush_interval of its request's end.
   */
  | { type: "rows"; json: string; final: boolean }
  /** Quota debits to add to the keys' counters (the daemon's KeyService hands them over once a second). */
  | { type: "debits"; id: number; debits: UsageDebit[] }
  /** A usage report (GET /admin/usage), run on the worker's connection so that a long one never holds up requests. */
  | { type: "report"; id: number; query: UsageQuery }
  /** Write nothing more; finish, close the database, answer "stopped". */
  | { type: "stop" };

/**
 * Records per worker transaction. The event loop hands records over 50 at a time (a
 * hand-over of 200 at 2000 req/s, its JSON.stringify on the event loop, added ~0.5 ms
 * to the latency p99 in alternating runs), while a commit costs SQLite about the same
 * for 50 rows as for 200 (the same log pages rewritten): gathering 200 took the
 * proxy's CPU per request from ~70 to ~64 us in the same runs.
 */
export const WRITE_BATCH = 200;
/** Longest a hand-over waits in the worker for more to join its transaction. */
export const GATHER_MS = 50;

export type FromWorker =
  /** oldestAt: when the oldest record owed to the webhook was made (Unix ms), null when none is. */
  | { type: "ready"; backlog: number; oldestAt: number | null }
  | { type: "written"; records: number }
  | { type: "write_failed"; records: number; error: string }
  | { type: "delivery"; result: "success" | "failure"; records: number }
  | { type: "backlog"; records: number; oldestAt: number | null }
  | { type: "log"; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | { type: "report"; id: number; result: ReportResult }
  /** Batch `id` is written; its key change log entries (store/key-change-log.ts) are seqs [from, to]. */
  | { type: "debited"; id: number; from: number; to: number }
  | { type: "debit_failed"; id: number; error: string }
  | { type: "stopped" };

/** A report's answer: `keyKnown` says whether the key filter (if any) names a key the database knows. */
export type ReportResult = { ok: true; summary: UsageSummary; keyKnown: boolean } | { ok: false; error: string };
