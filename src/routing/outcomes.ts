// What each attempt tells about its backend, applied to the backend's health state
// (health.ts) and reported: metrics for every ejection, a log line when a backend goes
// out or comes back.

import type { Logger } from "../log/logger.ts";
import { metrics } from "../metrics/metrics.ts";
import type { Backend } from "../runtime/backend.ts";
import { onFailure, onInconclusive, onRateLimited, onSuccess, recordTtfb } from "./health.ts";

/** The backend failed this attempt (connect error, timeout, 5xx, answer broken off). */
export function backendFailed(backend: Backend, code: string, log: Logger): void {
  const s = backend.state;
  const cooldown = onFailure(s, backend.config, performance.now());
  if (cooldown > 0) {
    metrics.ejections.labels(backend.name, code).inc();
    log.warn("backend ejected: no requests until its cool-down ends, then one trial request", {
      backend: backend.name,
      failures_in_a_row: s.consecutiveFailures,
      last_error: code,
      cooldown_ms: cooldown,
    });
  }
}

/** Response headers arrived with this status. */
export function backendAnswered(backend: Backend, status: number, retryAfter: string | null, ttfbMs: number, log: Logger): void {
  const s = backend.state;
  // Only real answers measure speed: a fast error would make a failing backend look fast.
  if (status < 400) recordTtfb(s, ttfbMs);
  if (status === 429) {
    const ms = onRateLimited(s, retryAfter, performance.now());
    log.info("backend rate limited: left alone for its Retry-After", { backend: backend.name, pause_ms: ms });
    return;
  }
  if (status >= 500) return backendFailed(backend, `http_${status}`, log);
  const wasOut = s.ejectedUntil !== 0;
  onSuccess(s);
  if (wasOut) log.info("backend back: its trial request succeeded", { backend: backend.name });
}

/** The attempt ended without telling anything about the backend (the client left). */
export function backendInconclusive(backend: Backend): void {
  onInconclusive(backend.state);
}
