// The usage result: one per proxied request, whatever its outcome. It is what metering,
// quotas and billing consume (see issue 7 for the durable outbox); here it is defined,
// filled by the proxy, and fanned out to metrics, the access log and any sink.

export type UsageSource = "backend" | "estimate" | "none";

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Part of promptTokens served from the backend's prompt cache (never added on top). */
  cachedTokens: number;
  /** Part of promptTokens written to the backend's prompt cache (Anthropic's cache_creation_input_tokens; priced apart). */
  cacheWriteTokens: number;
}

export interface UsageResult extends TokenUsage {
  requestId: string;
  /** Unix ms when the request arrived. */
  startedAt: number;
  /** The virtual key's id (never its secret); null with auth: none or when no valid key was sent. */
  keyId: string | null;
  endpoint: string;
  /** The model name the client sent. */
  requestedModel: string;
  /** The route that served it ("*" for the catch-all), "" when none matched. */
  route: string;
  backend: string;
  /** The model name sent upstream. */
  upstreamModel: string;
  stream: boolean;
  totalTokens: number;
  source: UsageSource;
  /** HTTP status the client got (499 when the client went away first). */
  status: number;
  /** Error code from src/errors.ts (or "upstream_http_<status>"), null on success. */
  errorCode: string | null;
  /** ms from arrival to the first body byte sent to the client; null when none was. */
  ttftMs: number | null;
  /** ms from arrival to the end of the answer. */
  latencyMs: number;
  retries: number;
  bytesIn: number;
  bytesOut: number;
  clientIp: string;
  traceparent: string | null;
}

/** Where usage results go. Must not throw and must not block: it runs on the hot path. */
export interface UsageSink {
  record(u: UsageResult): void;
}
