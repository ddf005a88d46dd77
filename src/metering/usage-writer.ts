// The usage sink of the event loop: each usage result becomes its record's values (with
// its id) and waits in memory; batches go to the metering worker (usage-worker.ts),
// which writes them to the database and feeds the webhook. A batch leaves every
// metering.flush_interval, or as soon as BATCH records are waiting, so that no single
// hand-over grows large (the worker gathers hand-overs into larger transactions:
// worker-protocol.ts).

import { edges } from "../edges/edges.ts";
import type { SqlValue } from "../store/db.ts";
import type { UsageRow } from "../store/usage-records.ts";
import type { UsageResult, UsageSink } from "./usage.ts";
import { GATHER_MS } from "./worker-protocol.ts";

/** Time-ordered ids (UUIDv7): receivers can sort by id. */
const newRecordId = edges.uuidv7;

/**
 * Records per hand-over to the worker. Small: a hand-over's JSON.stringify runs on the
 * event loop. Measured at 2000 req/s on 2 cores: 500 a batch added ~2 ms to the p99
 * latency, 200 ~0.5 ms; 50 is within the noise of no metering at all.
 */
const BATCH = 50;

const ms3 = (v: number) => Math.round(v * 1000) / 1000;

/** A usage result as the record stored (and sent to the webhook). */
export function usageRow(u: UsageResult, id: string = newRecordId()): UsageRow {
  return {
    id,
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
    cache_write_tokens: u.cacheWriteTokens,
    usage_source: u.source,
    status: u.status,
    error_code: u.errorCode,
    latency_ms: ms3(u.latencyMs),
    ttft_ms: u.ttftMs === null ? null : ms3(u.ttftMs),
    retries: u.retries,
    bytes_in: u.bytesIn,
    bytes_out: u.bytesOut,
    client_ip: u.clientIp,
    traceparent: u.traceparent,
  };
}

/**
 * The values of usageRow(u, id), in USAGE_COLUMNS order (stream as 0 or 1): what the
 * worker binds as they are. An array stringifies (per batch) and parses for less than an
 * object with its 24 keys (worker-protocol.ts). Writing each record's JSON text by hand,
 * as accessMembers does, cost more than JSON.stringify of the arrays: ~1.0 against
 * ~0.55 us a record on Bun (joining the ~50 pieces), ~1.15 against ~0.9 on Node.
 */
export function usageValues(u: UsageResult, id: string): SqlValue[] {
  return [
    id,
    u.requestId,
    u.startedAt,
    u.keyId,
    u.endpoint,
    u.requestedModel,
    u.route,
    u.backend,
    u.upstreamModel,
    u.stream ? 1 : 0,
    u.promptTokens,
    u.completionTokens,
    u.cachedTokens,
    u.cacheWriteTokens,
    u.source,
    u.status,
    u.errorCode,
    ms3(u.latencyMs),
    u.ttftMs === null ? null : ms3(u.ttftMs),
    u.retries,
    u.bytesIn,
    u.bytesOut,
    u.clientIp,
    u.traceparent,
  ];
}

export class UsageWriter implements UsageSink {
  /** The records waiting, each as usageValues. */
  private queue: SqlValue[][] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** performance.now() of the oldest record waiting. */
  private oldestAt = 0;

  constructor(
    /** Hands a batch to the worker; `final`: write it at once, do not gather. */
    private readonly ship: (rows: SqlValue[][], final: boolean) => void,
    private readonly flushIntervalMs: () => number,
  ) {}

  record(u: UsageResult): void {
    this.queue.push(usageValues(u, newRecordId()));
    if (this.queue.length >= BATCH) {
      // the worker may hold a batch GATHER_MS more: not when its oldest is nearly due
      this.handOver(performance.now() - this.oldestAt >= this.flushIntervalMs() - GATHER_MS);
    } else if (!this.timer) {
      this.oldestAt = performance.now();
      this.timer = setTimeout(this.flush, this.flushIntervalMs());
      this.timer.unref();
    }
  }

  /** Hand over what is waiting, to be written at once (the timer's job, a report's, the shutdown's). */
  readonly flush = (): void => this.handOver(true);

  private handOver(final: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0) return;
    const rows = this.queue;
    this.queue = [];
    this.ship(rows, final);
  }
}
