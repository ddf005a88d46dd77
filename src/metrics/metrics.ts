// Every Prometheus metric llmproxy exports, defined in this one file (names follow
// Prometheus conventions: base units, _total for counters, _seconds for durations).
// Label values are bounded: `model` is the route name from the config ("*" for the
// catch-all route, never the client's free-form model string), `backend` a configured
// backend name, `code` an error code from src/errors.ts.

import { readdirSync } from "node:fs";
import pkg from "../../package.json" with { type: "json" };
import { edges } from "../edges/edges.ts";
// The classes one by one rather than the package's index: the index also loads the
// Pushgateway (http, https, url), cluster aggregation and default metrics, which cost
// ~11 MB of resident memory in the executable and are not used here.
import Counter from "prom-client/lib/counter";
import Gauge from "prom-client/lib/gauge";
import Histogram from "prom-client/lib/histogram";
import Registry from "prom-client/lib/registry";

const client = { Counter, Gauge, Histogram };
export const registry = new Registry();

export interface BackendView {
  name: string;
  up: boolean;
  inflight: number;
}

/** The backends of the config in force, read at scrape time (set by the daemon). */
let backendSource: () => BackendView[] = () => [];
export function setBackendSource(source: () => BackendView[]): void {
  backendSource = source;
}

/** Requests in flight, counted here and read by the gauge at scrape time (no cost per request). */
let inflightRequests = 0;
export const inflightCount = {
  inc(): void {
    inflightRequests++;
  },
  dec(): void {
    inflightRequests--;
  },
  get(): number {
    return inflightRequests;
  },
};

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** When the oldest record owed to the webhook was made (Unix ms), as the metering worker last said. */
let webhookOldestAt: number | null = null;

export function setWebhookOldest(at: number | null): void {
  webhookOldestAt = at;
}

export const metrics = {
  requests: new client.Counter({
    name: "llmproxy_requests_total",
    help: "Proxied requests by route (model), backend, status class (2xx, 4xx, 5xx, 499 = client went away) and stream.",
    labelNames: ["model", "backend", "status_class", "stream"] as const,
    registers: [registry],
  }),
  requestDuration: new client.Histogram({
    name: "llmproxy_request_duration_seconds",
    help: "Time from the request's arrival to the last byte of the answer.",
    labelNames: ["model", "stream"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  ttft: new client.Histogram({
    name: "llmproxy_time_to_first_token_seconds",
    help: "Time from the request's arrival to the first byte of the answer's body (first token for streams), by route and stream: for a whole answer it is about its duration.",
    labelNames: ["model", "stream"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  tokens: new client.Counter({
    name: "llmproxy_tokens_total",
    help: "Tokens by type (prompt, completion, cached, cache_write) and route; cached (read from the prompt cache) and cache_write tokens are parts of prompt tokens, not added to them.",
    labelNames: ["model", "type"] as const,
    registers: [registry],
  }),
  keyRequests: new client.Counter({
    name: "llmproxy_key_requests_total",
    help: "Proxied requests per virtual key (only with metrics.key_labels: true), by status class.",
    labelNames: ["key", "status_class"] as const,
    registers: [registry],
  }),
  keyTokens: new client.Counter({
    name: "llmproxy_key_tokens_total",
    help: "Tokens per virtual key (only with metrics.key_labels: true), by type (prompt, completion, cached, cache_write).",
    labelNames: ["key", "type"] as const,
    registers: [registry],
  }),
  estimatedUsage: new client.Counter({
    name: "llmproxy_usage_estimated_total",
    help: "Requests whose token counts were estimated with the tokenizer because the backend reported none.",
    labelNames: ["backend"] as const,
    registers: [registry],
  }),
  upstreamErrors: new client.Counter({
    name: "llmproxy_upstream_errors_total",
    help: "Failed backend calls by backend and error code (upstream_connect_error, upstream_first_byte_timeout, http_5xx, ...).",
    labelNames: ["backend", "code"] as const,
    registers: [registry],
  }),
  ejections: new client.Counter({
    name: "llmproxy_backend_ejections_total",
    help: "Times a backend was taken out by the circuit breaker, by the error that tripped it.",
    labelNames: ["backend", "code"] as const,
    registers: [registry],
  }),
  retries: new client.Counter({
    name: "llmproxy_retries_total",
    help: "Attempts after the first of a request (on another target, before any byte reached the client), by route.",
    labelNames: ["model"] as const,
    registers: [registry],
  }),
  backendUp: new client.Gauge({
    name: "llmproxy_backend_up",
    help: "1 when the backend takes requests, 0 while it is ejected by the circuit breaker, failing its health probes or paused by a 429's Retry-After.",
    labelNames: ["backend"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of backendSource()) this.labels(b.name).set(b.up ? 1 : 0);
    },
  }),
  backendInflight: new client.Gauge({
    name: "llmproxy_backend_inflight_requests",
    help: "Requests in flight to each backend.",
    labelNames: ["backend"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of backendSource()) this.labels(b.name).set(b.inflight);
    },
  }),
  rateLimited: new client.Counter({
    name: "llmproxy_rate_limited_total",
    help: "Requests refused by a rate limit, by scope (global, key, model) and kind (requests, tokens, concurrency); quota refusals count as scope key, kind quota.",
    labelNames: ["scope", "kind"] as const,
    registers: [registry],
  }),
  usageRecordsWritten: new client.Counter({
    name: "llmproxy_usage_records_written_total",
    help: "Usage records written to the database.",
    registers: [registry],
  }),
  usageRecordsDropped: new client.Counter({
    name: "llmproxy_usage_records_dropped_total",
    help: "Usage records dropped because the database could not be written for too long (should stay 0).",
    registers: [registry],
  }),
  webhookDeliveries: new client.Counter({
    name: "llmproxy_webhook_deliveries_total",
    help: "POSTs of usage batches to the webhook, by result (success = 2xx).",
    labelNames: ["result"] as const,
    registers: [registry],
  }),
  webhookRecords: new client.Counter({
    name: "llmproxy_webhook_records_delivered_total",
    help: "Usage records the webhook acknowledged.",
    registers: [registry],
  }),
  webhookBacklog: new client.Gauge({
    name: "llmproxy_webhook_backlog_records",
    help: "Usage records waiting in the outbox for the webhook.",
    registers: [registry],
  }),
  webhookOldest: new client.Gauge({
    name: "llmproxy_webhook_oldest_record_age_seconds",
    help: "Age of the oldest usage record waiting for the webhook (0 when none waits): how far behind delivery is.",
    registers: [registry],
    collect() {
      this.set(webhookOldestAt === null ? 0 : Math.max(0, (Date.now() - webhookOldestAt) / 1000));
    },
  }),
  inflight: new client.Gauge({
    name: "llmproxy_inflight_requests",
    help: "Requests being proxied right now.",
    registers: [registry],
    collect() {
      this.set(inflightRequests);
    },
  }),
  reloads: new client.Counter({
    name: "llmproxy_config_reloads_total",
    help: "Config reload attempts by result (success, failure, unchanged).",
    labelNames: ["result"] as const,
    registers: [registry],
  }),
  lastReloadSuccess: new client.Gauge({
    name: "llmproxy_config_last_reload_success_timestamp_seconds",
    help: "Unix time of the last successful config load (start or reload).",
    registers: [registry],
  }),
  lastReloadOk: new client.Gauge({
    name: "llmproxy_config_last_reload_successful",
    help: "1 when the last reload attempt succeeded (or changed nothing), 0 when it failed and the previous config stayed in force.",
    registers: [registry],
  }),
  buildInfo: new client.Gauge({
    name: "llmproxy_build_info",
    help: "Always 1; the labels name the llmproxy version and the runtime it runs on.",
    labelNames: ["version", "runtime"] as const,
    registers: [registry],
  }),
  configInfo: new client.Gauge({
    name: "llmproxy_config_info",
    help: "Always 1; the hash label names the config in force.",
    labelNames: ["hash"] as const,
    registers: [registry],
  }),
};

// Counters with a small fixed set of label values start at 0: a series born at its first
// increment hides that increment from increase() and changes() (the first reload failure,
// the first failed webhook POST would not show on a dashboard or fire an alert).
for (const result of ["success", "failure", "unchanged"]) metrics.reloads.labels(result).inc(0);
for (const result of ["success", "failure"]) metrics.webhookDeliveries.labels(result).inc(0);

metrics.buildInfo.labels(pkg.version, edges.runtime).set(1);

// Process metrics, written here rather than with prom-client's collectDefaultMetrics:
// its event-loop-lag gauges read nonsense under Bun (min 9.2e9 s, NaN means).
const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
new client.Gauge({
  name: "process_start_time_seconds",
  help: "Start time of the process since unix epoch in seconds.",
  registers: [registry],
  collect() {
    this.set(startSeconds);
  },
});
new client.Counter({
  name: "process_cpu_seconds_total",
  help: "Total user and system CPU time spent in seconds.",
  registers: [registry],
  collect() {
    const u = process.cpuUsage();
    this.reset();
    this.inc((u.user + u.system) / 1e6);
  },
});
new client.Gauge({
  name: "process_resident_memory_bytes",
  help: "Resident memory size in bytes.",
  registers: [registry],
  collect() {
    this.set(process.memoryUsage.rss());
  },
});
new client.Gauge({
  name: "process_heap_bytes",
  help: "JavaScript heap in use, in bytes.",
  registers: [registry],
  collect() {
    this.set(process.memoryUsage().heapUsed);
  },
});
new client.Gauge({
  name: "process_open_fds",
  help: "Number of open file descriptors.",
  registers: [registry],
  collect() {
    try {
      this.set(readdirSync("/proc/self/fd").length);
    } catch {
      // not Linux: leave the gauge at its last value
    }
  },
});

export function statusClass(status: number): string {
  if (status === 499) return "499";
  return `${Math.floor(status / 100)}xx`;
}

export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}
