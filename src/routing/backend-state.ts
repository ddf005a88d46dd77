// Per-backend state that must outlive a config reload (Caddy keeps upstream state in a
// pool keyed by address, outside the config, for the same reason): requests in flight
// on the old runtime still count against the backend the new runtime sees.

export class BackendState {
  inflight = 0;
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

  /** Forget backends no config names any more (once nothing is in flight on them). */
  prune(keep: ReadonlySet<string>): void {
    for (const [name, s] of this.states) if (!keep.has(name) && s.inflight === 0) this.states.delete(name);
  }
}
