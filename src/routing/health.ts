// Backend health: passive (what real requests show) and active (probes), as pure
// transitions on BackendState with the clock passed in.
//
// Passive, like Envoy's outlier detection: `circuit.failures` consecutive failures
// (connect errors, timeouts, 5xx, answers broken off) eject a backend for a cool-down
// that doubles with each ejection in a row (up to `circuit.max_cooldown`); after it, one
// trial request goes through (half-open): success closes the circuit, failure ejects
// again for longer. One error never ejects a backend (unless failures is set to 1).
// A 429 is not a failure: the backend is fine but full; it is left alone for its
// Retry-After.
// Active: a probe every `health.interval`; `unhealthy_after` failed probes in a row take
// the backend out, `healthy_after` good ones bring it back.

import type { BackendConfig } from "../config/types.ts";
import type { BackendState } from "./backend-state.ts";

/** Weight of the newest sample in the time-to-first-byte average. */
const EWMA_ALPHA = 0.3;
/** Retry-After assumed when a 429 carries none. */
const DEFAULT_RATE_LIMIT_MS = 1000;
/** A Retry-After longer than this is capped: the backend is tried again by then. */
const MAX_RATE_LIMIT_MS = 5 * 60_000;

export type Unavailable = "ejected" | "probe_failing" | "rate_limited" | "trial_in_flight" | "at_capacity";

/** At its max_inflight: a hard limit, never exceeded (not even in panic mode). */
export function atCapacity(s: BackendState, cfg: BackendConfig): boolean {
  return cfg.maxInflight > 0 && s.inflight >= cfg.maxInflight;
}

/** Why the backend cannot take a request now, or null when it can. */
export function unavailability(s: BackendState, cfg: BackendConfig, now: number): Unavailable | null {
  if (atCapacity(s, cfg)) return "at_capacity";
  if (!s.probeUp) return "probe_failing";
  if (now < s.rateLimitedUntil) return "rate_limited";
  if (s.ejectedUntil !== 0) {
    if (now < s.ejectedUntil) return "ejected";
    if (s.trialInFlight) return "trial_in_flight";
  }
  return null;
}

/** When the backend may be available again (ms, same clock), for a Retry-After. */
export function availableAgainAt(s: BackendState, now: number): number {
  return Math.max(now, s.rateLimitedUntil, s.ejectedUntil);
}

/** A request is about to go to this backend. A backend past its cool-down gets its trial. */
export function onAttemptStart(s: BackendState, now: number): void {
  if (s.ejectedUntil !== 0 && now >= s.ejectedUntil) s.trialInFlight = true;
}

/** The backend answered (any status below 500 but 429): it works. */
export function onSuccess(s: BackendState): void {
  s.consecutiveFailures = 0;
  if (s.ejectedUntil !== 0) {
    s.ejectedUntil = 0;
    s.ejections = 0;
  }
  s.trialInFlight = false;
}

/**
 * The backend failed a request. Returns the cool-down when this failure ejected it
 * (for the log and metrics), else 0.
 */
export function onFailure(s: BackendState, cfg: BackendConfig, now: number): number {
  s.consecutiveFailures++;
  const trial = s.trialInFlight;
  s.trialInFlight = false;
  if (!trial && s.consecutiveFailures < cfg.circuit.failures) return 0;
  if (!trial && s.ejectedUntil !== 0 && now < s.ejectedUntil) return 0; // already out
  s.ejections++;
  const cooldown = Math.min(cfg.circuit.maxCooldownMs, cfg.circuit.cooldownMs * 2 ** (s.ejections - 1));
  s.ejectedUntil = now + cooldown;
  return cooldown;
}

/** The trial request ended without telling (the client left): let another one try. */
export function onInconclusive(s: BackendState): void {
  s.trialInFlight = false;
}

/** A 429: leave the backend alone for its Retry-After. Returns the pause in ms. */
export function onRateLimited(s: BackendState, retryAfter: string | null, now: number, nowDate = Date.now()): number {
  const ms = Math.min(MAX_RATE_LIMIT_MS, parseRetryAfter(retryAfter, nowDate) ?? DEFAULT_RATE_LIMIT_MS);
  s.rateLimitedUntil = Math.max(s.rateLimitedUntil, now + ms);
  s.trialInFlight = false;
  return ms;
}

/** Retry-After as ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); null if neither. */
export function parseRetryAfter(v: string | null, nowDate: number): number | null {
  if (v === null) return null;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - nowDate);
}

export function recordTtfb(s: BackendState, ms: number): void {
  s.ewmaMs = s.ewmaMs === null ? ms : s.ewmaMs + EWMA_ALPHA * (ms - s.ewmaMs);
}

/** A probe's result. Returns the new probeUp when it changed, else null. */
export function onProbe(s: BackendState, cfg: BackendConfig, ok: boolean): boolean | null {
  if (ok) {
    s.probeFailures = 0;
    s.probeSuccesses++;
    if (!s.probeUp && s.probeSuccesses >= cfg.health.healthyAfter) {
      s.probeUp = true;
      return true;
    }
  } else {
    s.probeSuccesses = 0;
    s.probeFailures++;
    if (s.probeUp && s.probeFailures >= cfg.health.unhealthyAfter) {
      s.probeUp = false;
      return false;
    }
  }
  return null;
}
