// Messages between the daemon's event loop and the metering worker (usage-worker.ts),
// the thread that does every database write and webhook POST of usage records, so that
// none of it ever stalls a request.

import type { WebhookSettings } from "../config/types.ts";
import type { LogLevel } from "../config/types.ts";
import type { UsageRow } from "../store/usage-records.ts";

export interface MeteringSettings {
  webhook: WebhookSettings | null;
  retentionMs: number;
}

export type ToWorker =
  | { type: "init"; database: string; settings: MeteringSettings }
  | { type: "settings"; settings: MeteringSettings }
  /** Records to store (and queue for the webhook when one is set). */
  | { type: "rows"; rows: UsageRow[] }
  /** Write nothing more; finish, close the database, answer "stopped". */
  | { type: "stop" };

export type FromWorker =
  | { type: "ready"; backlog: number }
  | { type: "written"; records: number }
  | { type: "write_failed"; records: number; error: string }
  | { type: "delivery"; result: "success" | "failure"; records: number }
  | { type: "backlog"; records: number }
  | { type: "log"; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | { type: "stopped" };
