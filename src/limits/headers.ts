// The rate-limit headers OpenAI sends, so that clients and SDKs written for OpenAI read
// ours unchanged. On every answer, 429 or not:
//   x-ratelimit-limit-requests / -tokens      the limit (per minute)
//   x-ratelimit-remaining-requests / -tokens  what is left after this request
//   x-ratelimit-reset-requests / -tokens      time until the limit is fully available
//                                             again, as a Go duration: "1s", "6m0s", "20ms"
// and on a 429: retry-after (whole seconds, RFC 9110 §10.2.3) and retry-after-ms, which
// the OpenAI SDKs read first (openai-node client.ts, retryRequest).

import type { LimitState } from "./types.ts";

export function rateLimitHeaders(requests: LimitState | null, tokens: LimitState | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (requests !== null) {
    headers["x-ratelimit-limit-requests"] = String(requests.limit);
    headers["x-ratelimit-remaining-requests"] = String(wholeRemaining(requests.remaining));
    headers["x-ratelimit-reset-requests"] = formatResetDuration(requests.resetMs);
  }
  if (tokens !== null) {
    headers["x-ratelimit-limit-tokens"] = String(tokens.limit);
    headers["x-ratelimit-remaining-tokens"] = String(wholeRemaining(tokens.remaining));
    headers["x-ratelimit-reset-tokens"] = formatResetDuration(tokens.resetMs);
  }
  return headers;
}

/**
 * retry-after in whole seconds rounded up (retrying earlier would be refused again) and
 * at least 1: "0" reads as "retry at once" and some clients then spin. retry-after-ms
 * carries the precise value for the SDKs that read it.
 */
export function retryAfterHeaders(ms: number): Record<string, string> {
  const wait = ms > 0 ? Math.ceil(ms) : 0;
  return {
    "retry-after": String(Math.max(1, Math.ceil(wait / 1000))),
    "retry-after-ms": String(Math.max(1, wait)),
  };
}

/**
 * A duration in the form OpenAI uses, which is Go's time.Duration.String() (clients such
 * as go-openai parse it with time.ParseDuration): "0s", "20ms" below a second, otherwise
 * hours and minutes only when present and seconds with up to 3 decimals, trailing zeros
 * dropped: "1s", "1.5s", "1m30s", "6m0s", "1h0m0s". Rounded up to the millisecond, so a
 * client never waits a hair too little.
 */
export function formatResetDuration(ms: number): string {
  if (!(ms > 0)) return "0s";
  const total = Math.ceil(ms);
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const whole = Math.floor(millis / 1000);
  const frac = millis % 1000;
  const seconds = frac === 0 ? `${whole}` : `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function wholeRemaining(n: number): number {
  return n > 0 ? Math.floor(n) : 0;
}
