// Model name -> route. Exact names first, then the "*" catch-all (which passes the
// client's model name through unchanged unless its target renames it).

import type { RouteConfig, Strategy } from "../config/types.ts";
import type { Backend } from "../runtime/backend.ts";
import { StrategyMemory } from "./strategies.ts";

export interface Target {
  readonly backend: Backend;
  /** Model name sent upstream; undefined keeps the client's. */
  readonly model: string | undefined;
  readonly weight: number;
  /** backend + upstream model: a target's identity for strategies and retries. */
  readonly key: string;
}

export interface Route {
  readonly name: string;
  readonly strategy: Strategy;
  readonly targets: readonly Target[];
  /** Routes to try, in order, when every target of this one failed or is unavailable. */
  readonly fallback: readonly Route[];
  /** The strategy's memory; lives with the runtime (a reload starts it afresh). */
  readonly memory: StrategyMemory;
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
        return { backend, model: t.model, weight: t.weight, key: `${t.backend}\u0000${t.model ?? ""}` };
      });
      routes.set(rc.name, { name: rc.name, strategy: rc.strategy, targets, fallback: [], memory: new StrategyMemory() });
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
