// Delivery of usage records to the webhook, at least once. Records wait in the
// database's outbox (usage-writer.ts puts them there in the same transaction that stores
// them); the sender POSTs the oldest in batches and deletes a batch from the outbox only
// when the receiver answered 2xx. A failure is retried with exponential backoff and
// jitter, for as long as it takes: an outage of any length, and restarts in between,
// only grow the outbox (bounded by disk). A batch can arrive twice (the receiver took it
// but its answer was lost): records carry a stable `id` to drop duplicates by.
//
// Each POST is signed: x-llmproxy-timestamp: UNIX-SECONDS and
// x-llmproxy-signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY)).
// Receivers check the signature and refuse old timestamps (replays).

import { createHmac } from "node:crypto";
import type { WebhookSettings } from "../config/types.ts";
import type { LogSink } from "../log/logger.ts";
import type { UsageRecordStore, UsageRow } from "../store/usage-records.ts";

/** What the sender reports (the metering worker forwards it to the metrics). */
export interface DeliveryEvents {
  delivered(records: number): void;
  failed(): void;
  backlog(records: number): void;
}

export function signature(secret: string, timestamp: string, body: string): string {
  // two updates, not one of `${timestamp}.${body}`: joining them copies the whole body
  // (a batch of 500 records is ~250 KB), which cost more than hashing it
  return "sha256=" + createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The JSON the receiver gets: records with ISO times beside the Unix ms. */
export function batchBody(rows: readonly UsageRow[]): string {
  return JSON.stringify({ object: "usage_batch", records: rows.map((r) => ({ ...r, time: new Date(r.ts).toISOString() })) });
}

/** Backlog sizes that are worth a warning when crossed (then every tenfold more). */
function nextWarnAt(n: number): number {
  let at = 1000;
  while (at <= n) at *= 10;
  return at;
}

export class WebhookSender {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending: Promise<void> | null = null;
  private failures = 0;
  private stopped = false;
  private backlog: number;
  private warnAt: number;
  private inflight: AbortController | null = null;

  constructor(
    private readonly store: UsageRecordStore,
    private readonly settings: () => WebhookSettings | null,
    private readonly log: LogSink,
    private readonly events: DeliveryEvents = { delivered() {}, failed() {}, backlog() {} },
  ) {
    this.backlog = store.backlog();
    this.warnAt = nextWarnAt(this.backlog);
    if (this.backlog > 0) this.log.info("usage records waiting for the webhook from before", { backlog: this.backlog });
  }

  backlogSize(): number {
    return this.backlog;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stop sending; an in-flight POST is abandoned (its records stay in the outbox). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.inflight?.abort();
    await this.sending?.catch(() => {});
  }

  /** Records were queued: count them, and send soon if a batch is full. */
  queued(n: number): void {
    this.backlog += n;
    this.events.backlog(this.backlog);
    if (this.backlog >= this.warnAt) {
      this.log.warn("usage records are piling up for the webhook", { backlog: this.backlog, url: this.settings()?.url });
      this.warnAt = nextWarnAt(this.backlog);
    }
    const s = this.settings();
    if (s && this.failures === 0 && this.backlog >= s.batch && !this.sending) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sending = this.send().finally(() => (this.sending = null));
    }, ms);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    const s = this.settings();
    if (!s) {
      this.schedule(1000); // no webhook in the config (now): look again later
      return;
    }
    const rows = this.store.pending(s.batch);
    if (rows.length === 0) {
      this.schedule(s.intervalMs);
      return;
    }
    const body = batchBody(rows);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const ac = new AbortController();
    this.inflight = ac;
    const timer = setTimeout(() => ac.abort(), s.timeoutMs);
    let problem: string | null = null;
    try {
      const res = await fetch(s.url, {
        method: "POST",
        headers: {
          ...s.headers,
          "content-type": "application/json",
          "x-llmproxy-timestamp": timestamp,
          "x-llmproxy-signature": signature(s.secret, timestamp, body),
        },
        body,
        signal: ac.signal,
        redirect: "manual",
      });
      await res.arrayBuffer().catch(() => {});
      if (res.status < 200 || res.status >= 300) problem = `HTTP ${res.status}`;
    } catch (err) {
      problem = ac.signal.aborted && !this.stopped ? `no answer within ${s.timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
      this.inflight = null;
    }
    if (this.stopped && problem !== null) return;
    if (problem === null) {
      this.store.delivered(rows.map((r) => r.id));
      this.backlog = Math.max(0, this.backlog - rows.length);
      this.events.delivered(rows.length);
      this.events.backlog(this.backlog);
      if (this.failures > 0) this.log.info("webhook delivery works again", { url: s.url, after_failures: this.failures, backlog: this.backlog });
      this.failures = 0;
      this.warnAt = nextWarnAt(this.backlog);
      // a full batch: there may be more right away
      this.schedule(rows.length >= s.batch ? 0 : s.intervalMs);
      return;
    }
    this.failures++;
    this.events.failed();
    // exponential backoff from the interval, with full jitter in [50%, 100%]
    const backoff = Math.min(s.maxBackoffMs, s.intervalMs * 2 ** Math.min(this.failures, 30)) * (0.5 + Math.random() / 2);
    if (this.failures === 1 || Math.log2(this.failures) % 1 === 0) {
      this.log.warn("webhook delivery failed; the records stay queued and are retried", {
        url: s.url,
        error: problem,
        failures_in_a_row: this.failures,
        retry_in_ms: Math.round(backoff),
        backlog: this.backlog,
      });
    }
    this.schedule(backoff);
  }
}
