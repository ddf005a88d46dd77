// Concurrent requests of one scope: a counter with a limit. Unlike the token buckets it
// has no clock: a slot frees when a request ends, which nobody can predict.

/** One acquired slot. release() is idempotent, so a double settle cannot free two slots. */
export interface ConcurrencyLease {
  release(): void;
}

export class ConcurrencyLimit {
  private count = 0;

  constructor(private max: number) {
    checkLimit(max);
  }

  get limit(): number {
    return this.max;
  }

  get inFlight(): number {
    return this.count;
  }

  hasRoom(): boolean {
    return this.count < this.max;
  }

  /**
   * A slot with a handle that releases it at most once; null when the limit is reached.
   * Use this unless the caller already guards against a double release (RateLimiter's
   * Admission does, and uses acquire/release to spare an allocation).
   */
  tryAcquire(): ConcurrencyLease | null {
    if (this.count >= this.max) return null;
    this.count++;
    return new Lease(this);
  }

  /** Counts one more in flight without checking: for a caller that just checked hasRoom(). */
  acquire(): void {
    this.count++;
  }

  /** One fewer in flight; never below 0, whatever the caller does. */
  release(): void {
    if (this.count > 0) this.count--;
  }

  /**
   * A reload changed the limit. Requests already in flight keep their slots; a lowered
   * limit refuses new ones until enough of them have ended.
   */
  setLimit(max: number): void {
    if (max === this.max) return;
    checkLimit(max);
    this.max = max;
  }
}

class Lease implements ConcurrencyLease {
  private owner: ConcurrencyLimit | null;

  constructor(owner: ConcurrencyLimit) {
    this.owner = owner;
  }

  release(): void {
    const owner = this.owner;
    if (owner === null) return;
    this.owner = null;
    owner.release();
  }
}

function checkLimit(max: number): void {
  if (!(max > 0) || !Number.isFinite(max)) {
    throw new RangeError(`concurrency limit must be a positive number, got ${max}`);
  }
}
