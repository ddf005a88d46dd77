// Fans each usage result out to metrics, the access log and the configured sinks.
// Runs on the hot path at the end of every request: no I/O waits here.

import type { Logger } from "../log/logger.ts";
import { counterChild, histogramChild, type CounterChild, type HistogramChild } from "../metrics/fast-child.ts";
import { metrics, statusClass } from "../metrics/metrics.ts";
import type { UsageResult, UsageSink } from "./usage.ts";

/** The metric series one kind of request adds to, bound once per label combination. */
interface Series {
  requests: CounterChild;
  duration: HistogramChild;
  ttft: HistogramChild;
  prompt: CounterChild;
  completion: CounterChild;
  cached: CounterChild;
  cacheWrite: CounterChild;
  estimated: CounterChild;
}

function series(model: string, backend: string, status: string, stream: string): Series {
  return {
    requests: counterChild(metrics.requests, { model, backend, status_class: status, stream }),
    duration: histogramChild(metrics.requestDuration, { model, stream }),
    // by stream too: a whole answer's first byte comes with its last, which would hide
    // the streams' time to first token in the same histogram
    ttft: histogramChild(metrics.ttft, { model, stream }),
    prompt: counterChild(metrics.tokens, { model, type: "prompt" }),
    completion: counterChild(metrics.tokens, { model, type: "completion" }),
    cached: counterChild(metrics.tokens, { model, type: "cached" }),
    cacheWrite: counterChild(metrics.tokens, { model, type: "cache_write" }),
    estimated: counterChild(metrics.estimatedUsage, { backend }),
  };
}

export class UsageRecorder {
  private readonly sinks: UsageSink[] = [];
  /** Label values are bounded (route and backend names from the config), so is this. */
  private readonly series = new Map<string, Series>();
  /** log.access from the config in force (reloadable). */
  accessLog = true;
  /** metrics.key_labels from the config in force: per-key series. */
  keyLabels = false;

  constructor(private readonly log: Logger) {}

  addSink(sink: UsageSink): () => void {
    this.sinks.push(sink);
    return () => {
      const i = this.sinks.indexOf(sink);
      if (i >= 0) this.sinks.splice(i, 1);
    };
  }

  record(u: UsageResult): void {
    const model = u.route || "none";
    const backend = u.backend || "none";
    const status = statusClass(u.status);
    const stream = u.stream ? "true" : "false";
    const key = `${model}\u0000${backend}\u0000${status}\u0000${stream}`;
    let m = this.series.get(key);
    if (!m) this.series.set(key, (m = series(model, backend, status, stream)));
    m.requests.inc();
    m.duration.observe(u.latencyMs / 1000);
    if (u.ttftMs !== null) m.ttft.observe(u.ttftMs / 1000);
    if (u.promptTokens) m.prompt.inc(u.promptTokens);
    if (u.completionTokens) m.completion.inc(u.completionTokens);
    if (u.cachedTokens) m.cached.inc(u.cachedTokens);
    if (u.cacheWriteTokens) m.cacheWrite.inc(u.cacheWriteTokens);
    if (u.source === "estimate") m.estimated.inc();
    if (this.keyLabels && u.keyId !== null) {
      metrics.keyRequests.labels(u.keyId, status).inc();
      if (u.promptTokens) metrics.keyTokens.labels(u.keyId, "prompt").inc(u.promptTokens);
      if (u.completionTokens) metrics.keyTokens.labels(u.keyId, "completion").inc(u.completionTokens);
      if (u.cachedTokens) metrics.keyTokens.labels(u.keyId, "cached").inc(u.cachedTokens);
      if (u.cacheWriteTokens) metrics.keyTokens.labels(u.keyId, "cache_write").inc(u.cacheWriteTokens);
    }
    if (this.accessLog) this.writeAccessLine(u);
    for (const s of this.sinks) {
      try {
        s.record(u);
      } catch (err) {
        this.log.error("usage sink failed", { request_id: u.requestId, error: String(err) });
      }
    }
  }

  private writeAccessLine(u: UsageResult): void {
    this.log.infoMembers("request", accessMembers(u), () => accessFields(u));
  }
}

const ms3 = (v: number) => Math.round(v * 1000) / 1000;

/** The access-log fields (the text format, and the reference for accessMembers). */
export function accessFields(u: UsageResult): Record<string, unknown> {
  return {
    request_id: u.requestId,
    key_id: u.keyId,
    endpoint: u.endpoint,
    model: u.requestedModel,
    route: u.route,
    backend: u.backend,
    upstream_model: u.upstreamModel,
    status: u.status,
    error_code: u.errorCode,
    stream: u.stream,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    cached_tokens: u.cachedTokens,
    cache_write_tokens: u.cacheWriteTokens,
    usage_source: u.source,
    ttft_ms: u.ttftMs === null ? null : ms3(u.ttftMs),
    duration_ms: ms3(u.latencyMs),
    retries: u.retries,
    bytes_in: u.bytesIn,
    bytes_out: u.bytesOut,
    client_ip: u.clientIp,
    traceparent: u.traceparent ?? undefined,
  };
}

/**
 * The same fields as JSON members, written by hand: this runs for every request, and
 * stringifying a fresh 20-field object costs more than the rest of the line. Values
 * that come from the client (model names, traceparent) are escaped by JSON.stringify;
 * the others are numbers or names that need no escaping: request ids (generated, or the
 * client's when they match request-id.ts's token pattern), route and backend names (the
 * config schema's name pattern), error codes, IP addresses.
 */
export function accessMembers(u: UsageResult): string {
  const q = JSON.stringify;
  return (
    `"request_id":"${u.requestId}","key_id":${u.keyId === null ? "null" : `"${u.keyId}"`},"endpoint":"${u.endpoint}","model":${q(u.requestedModel)},"route":"${u.route}",` +
    `"backend":"${u.backend}","upstream_model":${q(u.upstreamModel)},"status":${u.status},` +
    `"error_code":${u.errorCode === null ? "null" : `"${u.errorCode}"`},"stream":${u.stream},"prompt_tokens":${u.promptTokens},` +
    `"completion_tokens":${u.completionTokens},"cached_tokens":${u.cachedTokens},"cache_write_tokens":${u.cacheWriteTokens},"usage_source":"${u.source}",` +
    `"ttft_ms":${u.ttftMs === null ? "null" : ms3(u.ttftMs)},"duration_ms":${ms3(u.latencyMs)},"retries":${u.retries},` +
    `"bytes_in":${u.bytesIn},"bytes_out":${u.bytesOut},"client_ip":"${u.clientIp}"` +
    (u.traceparent === null ? "" : `,"traceparent":${q(u.traceparent)}`)
  );
}
