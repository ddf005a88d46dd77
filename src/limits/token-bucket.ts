// A token bucket of capacity C that refills continuously at C per minute: "rpm 60" lets
// a burst of 60 pass, then one request per second. A bucket is not a fixed window, so a
// client can never get 2C through by straddling a window edge.
//
// Pure and clock-injected: every method takes `now` (ms) and nothing reads a clock, so
// tests drive time by hand. Pass whole milliseconds (Date.now()) and every boundary is
// exact: the level is kept in "token·ms" units (1 token = WINDOW_MS units), a refill of
// `elapsed` ms adds `elapsed × C` units, and all of that is integer arithmetic (exact in
// a double up to 2^53, i.e. C up to ~10^11 per minute). With fractional floats, a refill
// after exactly 1/C of a minute could land a hair short of one token and refuse a request
// the client was told would pass.

export const WINDOW_MS = 60_000;

export class TokenBucket {
  private cap: number;
  /** Level in token·ms units; below 0 = debt (a settle charged more than was reserved). */
  private units: number;
  private updatedAt: number;

  /** A new bucket starts full: a scope seen for the first time has used nothing. */
  constructor(capacity: number, now: number) {
    checkCapacity(capacity);
    this.cap = capacity;
    this.units = capacity * WINDOW_MS;
    this.updatedAt = now;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Tokens in the bucket now; fractional, negative while in debt. */
  level(now: number): number {
    this.refill(now);
    return this.units / WINDOW_MS;
  }

  /** Whole tokens available now, never below 0 (what x-ratelimit-remaining-* shows). */
  remaining(now: number): number {
    this.refill(now);
    return this.units > 0 ? Math.floor(this.units / WINDOW_MS) : 0;
  }

  /** Takes n tokens if all n are there, else takes nothing. n > capacity never passes. */
  take(n: number, now: number): boolean {
    this.refill(now);
    const need = n * WINDOW_MS;
    if (this.units < need) return false;
    this.units -= need;
    return true;
  }

  /**
   * Admission with an estimate (TPM): like take, except that an estimate above the
   * capacity is admitted when the bucket is full, leaving it in debt. Refusing it would
   * refuse it forever; this way a big request costs its real size in waiting afterwards.
   * A bucket in debt admits nothing, not even an estimate of 0, until it is back at 0.
   */
  reserve(n: number, now: number): boolean {
    this.refill(now);
    if (this.units < this.needUnits(n)) return false;
    this.units -= n * WINDOW_MS;
    return true;
  }

  /** Gives back tokens reserved but not used (settling below the estimate); never above full. */
  refund(n: number, now: number): void {
    this.refill(now);
    const full = this.cap * WINDOW_MS;
    this.units = Math.min(full, this.units + n * WINDOW_MS);
  }

  /** Takes tokens used beyond the reservation; the level may go negative (debt). */
  charge(n: number, now: number): void {
    this.refill(now);
    this.units -= n * WINDOW_MS;
  }

  /**
   * ms until reserve(n) would pass (Retry-After); 0 = now. n is capped at the capacity,
   * matching reserve: an oversized estimate waits for a full bucket, never forever.
   */
  msUntil(n: number, now: number): number {
    this.refill(now);
    const missing = this.needUnits(n) - this.units;
    // units / (C units per ms); whole ms rounded up, so that waiting this long is enough
    return missing > 0 ? Math.ceil(missing / this.cap) : 0;
  }

  /** ms until the bucket is full again (x-ratelimit-reset-*); 0 = full. */
  msUntilFull(now: number): number {
    return this.msUntil(this.cap, now);
  }

  /**
   * A config reload changed the limit. The fill ratio is kept, not the absolute level:
   * every time (until full, until out of debt, Retry-After already sent) stays the same
   * and only the amounts scale. Raising rpm 100 → 1000 with 10 left leaves 100: a raised
   * limit helps at once, in proportion. Lowering 100 → 10 with 50 left leaves 5: a lower
   * limit grants no fresh burst, and a full bucket stays full, never punished for past
   * use the old limit allowed. Keeping the absolute level instead would leave "10 left
   * of 1000" after a raise, and need a clamp on a lowering.
   */
  resize(capacity: number, now: number): void {
    if (capacity === this.cap) return;
    checkCapacity(capacity);
    this.refill(now); // at the old rate up to now
    this.units = (this.units * capacity) / this.cap;
    this.cap = capacity;
  }

  private needUnits(n: number): number {
    return (n < this.cap ? n : this.cap) * WINDOW_MS;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    // A clock that steps back (or a stale `now` from a caller) refills nothing and does
    // not move updatedAt back, so the same interval is never credited twice.
    if (elapsed <= 0) return;
    this.updatedAt = now;
    const full = this.cap * WINDOW_MS;
    if (this.units >= full) return;
    const units = this.units + elapsed * this.cap;
    this.units = units < full ? units : full;
  }
}

function checkCapacity(capacity: number): void {
  // The config turns 0 into null (no limit), so a non-positive capacity is a caller bug.
  if (!(capacity > 0) || !Number.isFinite(capacity)) {
    throw new RangeError(`token bucket capacity must be a positive number, got ${capacity}`);
  }
}
