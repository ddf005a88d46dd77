// Per-backend state that must outlive a config reload (Caddy keeps upstream state in a
// pool keyed by address, outside the config, for the same reason): requests in flight
// on the old runtime still count against the backend the new runtime sees, and a backend
// ejected a second ago stays ejected across a reload. Transitions live in health.ts.

export class BackendState {
  /** Requests in flight to this backend (all runtimes). */
  inflight = 0;
  /** EWMA of time to response headers, ms (the latency strategy). */
  ewmaMs: number | null = null;
  // passive health (circuit breaker); times are performance.now() ms, 0 = none
  consecutiveFailures = 0;
  ejectedUntil = 0;
  /** Ejections in a row: each doubles the cool-down. */
  ejections = 0;
  /** Half-open: the one trial request after a cool-down is under way. */
  trialInFlight = false;
  /** A 429's Retry-After: no requests until then. */
  rateLimitedUntil = 0;
  // active health (probes)
  probeUp = true;
  probeFailures = 0;
  probeSuccesses = 0;

  constructor(readonly name: string) {}
}

export class BackendStateRegistry {
  private readonly states = new Map<string, BackendState>();

  get(name: string): BackendState {
    let s = this.states.get(name);
    if (!s) {
      s = new BackendState(name);
      this.states.set(name, s);
    }
    return s;
  }

  all(): IterableIterator<BackendState> {
    return this.states.values();
  }

  /** Forget backends no config names any more (once nothing is in flight on them). */
  prune(keep: ReadonlySet<string>): void {
    for (const [name, s] of this.states) if (!keep.has(name) && s.inflight === 0) this.states.delete(name);
  }
}
