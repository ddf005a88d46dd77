// The usage sink that writes every record to the database: records wait in memory and
// are written in one transaction every metering.flush_interval (and at shutdown), never
// on a request's path. When a webhook is configured, each record is queued in the
// outbox in the same transaction, so a record that is stored is also owed to the
// webhook, whatever happens next.

import { randomUUID } from "node:crypto";
import type { Logger } from "../log/logger.ts";
import { metrics } from "../metrics/metrics.ts";
import type { UsageRecordStore, UsageRow } from "../store/usage-records.ts";
import type { UsageResult, UsageSink } from "./usage.ts";

/** Time-ordered ids (UUIDv7) where the runtime has them: receivers can sort by id. */
const newRecordId: () => string = typeof Bun !== "undefined" ? () => Bun.randomUUIDv7() : () => randomUUID();

/**
 * Records kept in memory while the database cannot be written. Beyond this the oldest are
 * dropped, loudly: the alternative is running out of memory and losing all of them.
 */
const MAX_QUEUED = 1_000_000;

export function usageRow(u: UsageResult): UsageRow {
  return {
    id: newRecordId(),
    request_id: u.requestId,
    ts: u.startedAt,
    key_id: u.keyId,
    endpoint: u.endpoint,
    model: u.requestedModel,
    route: u.route,
    backend: u.backend,
    upstream_model: u.upstreamModel,
    stream: u.stream,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    cached_tokens: u.cachedTokens,
    usage_source: u.source,
    status: u.status,
    error_code: u.errorCode,
    latency_ms: Math.round(u.latencyMs * 1000) / 1000,
    ttft_ms: u.ttftMs === null ? null : Math.round(u.ttftMs * 1000) / 1000,
    retries: u.retries,
    bytes_in: u.bytesIn,
    bytes_out: u.bytesOut,
    client_ip: u.clientIp,
    traceparent: u.traceparent,
  };
}

export interface WriterSettings {
  flushIntervalMs: number;
  /** Queue records for the webhook too. */
  webhook: boolean;
}

export class UsageWriter implements UsageSink {
  private queue: UsageRow[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failing = false;

  constructor(
    private readonly store: UsageRecordStore,
    private readonly settings: () => WriterSettings,
    private readonly log: Logger,
    /** Told how many records were queued for the webhook (its backlog counter). */
    private readonly onQueued: (n: number) => void = () => {},
  ) {}

  record(u: UsageResult): void {
    this.queue.push(usageRow(u));
    if (this.queue.length > MAX_QUEUED) {
      const dropped = this.queue.splice(0, this.queue.length - MAX_QUEUED);
      metrics.usageRecordsDropped.inc(dropped.length);
      this.log.error("usage records dropped: the database has not been writable for too long", { dropped: dropped.length });
    }
    if (!this.timer) {
      this.timer = setTimeout(this.flush, this.settings().flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Write what is queued now (the timer's job, and the last step of a shutdown). */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0) return;
    const rows = this.queue;
    this.queue = [];
    const { webhook } = this.settings();
    try {
      this.store.insert(rows, webhook, Date.now());
      metrics.usageRecordsWritten.inc(rows.length);
      if (webhook) this.onQueued(rows.length);
      if (this.failing) {
        this.failing = false;
        this.log.info("usage records are written again", { records: rows.length });
      }
    } catch (err) {
      this.queue = rows.concat(this.queue);
      if (!this.failing) {
        this.failing = true;
        this.log.error("cannot write usage records; they stay in memory and are retried", { error: String(err), records: this.queue.length });
      }
      this.timer = setTimeout(this.flush, this.settings().flushIntervalMs);
      this.timer.unref();
    }
  };

  /** Records waiting to be written. */
  queued(): number {
    return this.queue.length;
  }
}
