// The runtime: everything built from one validated config (backends, routes). A reload
// builds a whole new one and swaps it in with one assignment (holder.ts); each request
// reads the current runtime once at arrival and keeps it to the end, so requests and
// streams in flight finish on the runtime they started on.

import type { Config, LoadedConfig } from "../config/types.ts";
import { unavailability } from "../routing/health.ts";
import { Prober } from "../routing/probes.ts";
import { RouteTable } from "../routing/route-table.ts";
import { createBackend, type Backend } from "./backend.ts";
import type { Services } from "./services.ts";

export class Runtime {
  readonly config: Config;
  readonly hash: string;
  readonly file: string | null;
  readonly backends: ReadonlyMap<string, Backend>;
  readonly routes: RouteTable;
  /** Unix ms when this runtime was built. */
  readonly loadedAt = Date.now();
  private readonly prober: Prober;
  /** Requests started on this runtime and not finished yet. */
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(loaded: LoadedConfig, services: Services) {
    this.config = loaded.config;
    this.hash = loaded.hash;
    this.file = loaded.file;
    const backends = new Map<string, Backend>();
    for (const b of this.config.backends) backends.set(b.name, createBackend(b, services.states.get(b.name)));
    this.backends = backends;
    this.routes = new RouteTable(this.config.models, backends);
    this.prober = new Prober(backends.values(), services.log);
  }

  /** Start what runs in the background (health probes): once this runtime is in force. */
  start(): void {
    this.prober.start();
  }

  /** Stop the background work: when another runtime replaced this one. */
  stop(): void {
    this.prober.stop();
  }

  /** Backends that can take a request now (not ejected, not failing probes, not rate limited). */
  healthyBackends(now = performance.now()): string[] {
    const out: string[] = [];
    for (const b of this.backends.values()) {
      const why = unavailability(b.state, b.config, now);
      if (why === null || why === "at_capacity") out.push(b.name);
    }
    return out;
  }

  enter(): void {
    this.active++;
  }

  leave(): void {
    this.active--;
    if (this.active === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  inFlight(): number {
    return this.active;
  }

  /** Resolves once no request of this runtime is in flight. */
  drained(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** The runtime in force. Swapping is one assignment; the old one is disposed when drained. */
export class RuntimeHolder {
  constructor(public current: Runtime) {}

  swap(next: Runtime): Runtime {
    const old = this.current;
    this.current = next;
    return old;
  }
}
