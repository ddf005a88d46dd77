// The limiter state of one named scope (the global scope, one key, one model): up to one
// bucket or counter per kind. It lives in the RateLimiter, outside any config, so that a
// reload changes the limits and keeps what was used (STYLE.md rule 3).

import { ConcurrencyLimit } from "./concurrency.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { LimitSpec } from "./types.ts";

export class ScopeState {
  rpm: TokenBucket | null = null;
  tpm: TokenBucket | null = null;
  concurrency: ConcurrencyLimit | null = null;
  /** Admissions not settled yet. Such a state is never swept, whatever its buckets say. */
  pending = 0;

  /** The key id or model name (the map key, kept here so a sweep can walk values only). */
  constructor(readonly name: string) {}

  /**
   * Brings the state in line with the current limits: a kind set to null drops its
   * bucket, a new kind starts full, a changed one is resized (see TokenBucket.resize).
   * Returns false when no kind is limited any more: the caller drops the whole state.
   */
  sync(spec: LimitSpec, now: number): boolean {
    const { rpm, tpm, concurrency } = spec;
    if (rpm === null) this.rpm = null;
    else if (this.rpm === null) this.rpm = new TokenBucket(rpm, now);
    else if (this.rpm.capacity !== rpm) this.rpm.resize(rpm, now);

    if (tpm === null) this.tpm = null;
    else if (this.tpm === null) this.tpm = new TokenBucket(tpm, now);
    else if (this.tpm.capacity !== tpm) this.tpm.resize(tpm, now);

    // Requests admitted while concurrency was unlimited hold no slot; a counter created
    // now starts at 0 and counts only what it admits.
    if (concurrency === null) this.concurrency = null;
    else if (this.concurrency === null) this.concurrency = new ConcurrencyLimit(concurrency);
    else this.concurrency.setLimit(concurrency);

    return limitsAnything(spec);
  }

  /**
   * Nothing in flight and every bucket full: dropping this state and creating it again
   * on the next request gives exactly the same answers, so a sweep may drop it.
   */
  isIdle(now: number): boolean {
    if (this.pending > 0) return false;
    if (this.concurrency !== null && this.concurrency.inFlight > 0) return false;
    if (this.rpm !== null && this.rpm.msUntilFull(now) > 0) return false;
    return this.tpm === null || this.tpm.msUntilFull(now) === 0;
  }
}

/** False when a spec limits nothing (all kinds null): no state is kept for it. */
export function limitsAnything(spec: LimitSpec): boolean {
  return spec.rpm !== null || spec.tpm !== null || spec.concurrency !== null;
}
