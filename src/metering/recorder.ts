// Fans each usage result out to metrics, the access log and the configured sinks.
// Runs on the hot path at the end of every request: no I/O waits here.

import type { Logger } from "../log/logger.ts";
import { metrics, statusClass } from "../metrics/metrics.ts";
import type { UsageResult, UsageSink } from "./usage.ts";

export class UsageRecorder {
  private readonly sinks: UsageSink[] = [];
  /** log.access from the config in force (reloadable). */
  accessLog = true;

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
    const stream = u.stream ? "true" : "false";
    metrics.requests.labels(model, u.backend || "none", statusClass(u.status), stream).inc();
    metrics.requestDuration.labels(model, stream).observe(u.latencyMs / 1000);
    if (u.ttftMs !== null) metrics.ttft.labels(model).observe(u.ttftMs / 1000);
    if (u.promptTokens) metrics.tokens.labels(model, "prompt").inc(u.promptTokens);
    if (u.completionTokens) metrics.tokens.labels(model, "completion").inc(u.completionTokens);
    if (u.cachedTokens) metrics.tokens.labels(model, "cached").inc(u.cachedTokens);
    if (u.source === "estimate") metrics.estimatedUsage.labels(u.backend || "none").inc();
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
    this.log.info("request", {
      request_id: u.requestId,
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
      usage_source: u.source,
      ttft_ms: u.ttftMs === null ? null : Math.round(u.ttftMs * 1000) / 1000,
      duration_ms: Math.round(u.latencyMs * 1000) / 1000,
      retries: u.retries,
      bytes_in: u.bytesIn,
      bytes_out: u.bytesOut,
      client_ip: u.clientIp,
      traceparent: u.traceparent ?? undefined,
    });
  }
}
