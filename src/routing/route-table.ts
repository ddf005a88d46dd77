// Model name -> route. Exact names first, then the "*" catch-all (which passes the
// client's model name through unchanged unless its target renames it).

import type { RouteConfig, Strategy } from "../config/types.ts";
import type { Backend } from "../runtime/backend.ts";

export interface Target {
  readonly backend: Backend;
  /** Model name sent upstream; undefined keeps the client's. */
  readonly model: string | undefined;
  readonly weight: number;
}

export interface Route {
  readonly name: string;
  readonly strategy: Strategy;
  readonly targets: readonly Target[];
  /** Routes to try, in order, when every target of this one failed. */
  readonly fallback: readonly Route[];
  /** Round-robin cursor; lives with the runtime (a reload starts it again). */
  cursor: number;
}

export class RouteTable {
  private readonly exact = new Map<string, Route>();
  private readonly wildcard: Route | undefined;

  constructor(configs: readonly RouteConfig[], backends: ReadonlyMap<string, Backend>) {
    const routes = new Map<string, Route>();
    for (const rc of configs) {
      const targets = rc.targets.map((t) => {
        const backend = backends.get(t.backend);
        // config/semantic.ts rejects unknown backends; this guards the invariant.
        if (!backend) throw new Error(`route ${rc.name}: unknown backend ${t.backend}`);
        return { backend, model: t.model, weight: t.weight };
      });
      routes.set(rc.name, { name: rc.name, strategy: rc.strategy, targets, fallback: [], cursor: 0 });
    }
    for (const rc of configs) {
      const r = routes.get(rc.name)!;
      (r as { fallback: readonly Route[] }).fallback = rc.fallback.map((f) => routes.get(f)).filter((x): x is Route => x !== undefined);
    }
    for (const [name, r] of routes) if (name !== "*") this.exact.set(name, r);
    this.wildcard = routes.get("*");
  }

  resolve(model: string): Route | undefined {
    return this.exact.get(model) ?? this.wildcard;
  }

  /** The model names clients can ask for by name (the catch-all is not listed). */
  names(): string[] {
    return [...this.exact.keys()];
  }
}

/** Whether a target can take one more request now (its backend's max_inflight). */
export function isAvailable(t: Target): boolean {
  const max = t.backend.config.maxInflight;
  return max === 0 || t.backend.state.inflight < max;
}

/**
 * The targets to try for one request, in order: the route's own, starting where its
 * strategy points, then each fallback route's. A (backend, model) pair appears once:
 * a fallback may use the same backend with another model.
 */
export function attemptOrder(route: Route): readonly Target[] {
  // the common case: one target, no fallback
  if (route.targets.length === 1 && route.fallback.length === 0) return route.targets;
  const out: Target[] = [];
  const seen = new Set<string>();
  const visit = (r: Route, depth: number) => {
    const n = r.targets.length;
    const start = r.strategy === "priority" ? 0 : r.cursor++ % n;
    for (let i = 0; i < n; i++) {
      const t = r.targets[(start + i) % n]!;
      const key = `${t.backend.name}\u0000${t.model ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
    }
    if (depth < 8) for (const f of r.fallback) visit(f, depth + 1);
  };
  visit(route, 0);
  return out;
}
