// The requests in progress across every runtime (a reload leaves old ones draining).
// Only a shutdown past its drain timeout uses it: it cuts them itself, so each stream
// ends with an error event that says why and each record says "shutting_down", instead
// of the socket closing under them and the cut passing for a client that left (499).

/** What the registry can cut: an exchange. */
export interface Cuttable {
  cutForShutdown(): void;
}

export class InFlightRegistry {
  private readonly live = new Set<Cuttable>();

  add(x: Cuttable): void {
    this.live.add(x);
  }

  delete(x: Cuttable): void {
    this.live.delete(x);
  }

  get size(): number {
    return this.live.size;
  }

  /** Cut every request in progress; returns how many. */
  cutAll(): number {
    const all = [...this.live];
    for (const x of all) x.cutForShutdown();
    return all.length;
  }
}
