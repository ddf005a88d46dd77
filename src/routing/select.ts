// Choosing the target of each attempt of one request: the route's strategy over its
// available targets, then (when none is left) the fallback routes, in order. A target
// tried once in this request is not tried again; a fallback may use the same backend
// with another model. Availability is one function (health.ts unavailability).
//
// Panic mode (Envoy's term): when no healthy target is left anywhere in the chain, the
// unhealthy ones (ejected, failing probes, rate limited) are tried anyway, in the same
// order. Refusing would turn a health verdict that may be stale into a certain outage
// (a single-backend route would be down for the whole cool-down); trying lets the
// backend itself answer, with its own error or its own 429. Only a backend at its
// max_inflight is never exceeded.

import type { Candidate, Rng } from "./strategies.ts";
import { pick } from "./strategies.ts";
import { availableAgainAt, unavailability, type Unavailable } from "./health.ts";
import type { Route, Target } from "./route-table.ts";

/** Fallback chains deeper than this are cut (the config check refuses cycles). */
const MAX_DEPTH = 8;

export class TargetSelector {
  private readonly tried = new Set<string>();
  private readonly routes: Route[] = [];
  /** A target was tried although unhealthy (see panic mode above). */
  panicked = false;
  /** Why targets were passed over, for the error when none is left. */
  readonly skipped = new Map<string, Unavailable>();
  /** Soonest time a skipped target may be available again (performance.now ms). */
  retryAt = Infinity;
  /** Backends passed over because they cannot serve this request at all (`accepts`), with why. */
  readonly unsuitable = new Map<string, string>();

  constructor(
    route: Route,
    private readonly now: () => number,
    private readonly rng: Rng = Math.random,
    /** Why a target cannot serve this request (its backend's protocol cannot express the endpoint), or null when it can. */
    private readonly unsuitableWhy: (t: Target) => string | null = () => null,
  ) {
    const seen = new Set<Route>();
    const visit = (r: Route, depth: number) => {
      if (seen.has(r) || depth > MAX_DEPTH) return;
      seen.add(r);
      this.routes.push(r);
      for (const f of r.fallback) visit(f, depth + 1);
    };
    visit(route, 0);
  }

  /** The next target to try, or null when none is left. */
  next(): Target | null {
    const now = this.now();
    const healthy = this.scan(now, false);
    if (healthy) return healthy;
    // Panic: what is left is unhealthy or full. The full ones are the only reason left
    // to refuse, and they free up by themselves: wait times start over.
    this.retryAt = Infinity;
    return this.scan(now, true);
  }

  private scan(now: number, panic: boolean): Target | null {
    for (const route of this.routes) {
      const available: Target[] = [];
      for (const t of route.targets) {
        if (this.tried.has(t.key)) continue;
        const unsuitable = this.unsuitableWhy(t);
        if (unsuitable !== null) {
          this.unsuitable.set(t.backend.name, unsuitable);
          continue;
        }
        // weight 0 in a weighted route: drained, no traffic at all
        if (route.strategy === "weighted" && t.weight <= 0) continue;
        const why = unavailability(t.backend.state, t.backend.config, now);
        if (why !== null && (!panic || why === "at_capacity")) {
          this.skipped.set(t.backend.name, why);
          if (why !== "at_capacity") this.retryAt = Math.min(this.retryAt, availableAgainAt(t.backend.state, now));
          continue;
        }
        available.push(t);
      }
      if (available.length === 0) continue;
      const target = available.length === 1 ? available[0]! : available[pick(route.strategy, available.map(candidate), route.memory, this.rng)]!;
      this.tried.add(target.key);
      if (panic) this.panicked = true;
      return target;
    }
    return null;
  }
}

function candidate(t: Target): Candidate {
  const s = t.backend.state;
  return { key: t.key, weight: t.weight, inflight: s.inflight, ewmaMs: s.ewmaMs };
}
