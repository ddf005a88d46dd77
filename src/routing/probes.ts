// Active health checks: each backend of the config in force is probed every
// health.interval (spread with jitter so backends are not all probed at once). Probes
// belong to a runtime and stop when it is replaced; the state they update outlives it.

import type { Logger } from "../log/logger.ts";
import type { Backend } from "../runtime/backend.ts";
import { onProbe } from "./health.ts";

export class Prober {
  private readonly timers = new Map<Backend, ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(
    private readonly backends: Iterable<Backend>,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const b of this.backends) {
      const every = b.config.health.intervalMs;
      if (every <= 0) {
        // Probes off: a verdict of earlier probes (kept across reloads) no longer stands.
        b.state.probeUp = true;
        b.state.probeFailures = 0;
        continue;
      }
      // first probe within one interval, at a random point
      this.schedule(b, Math.random() * every);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(b: Backend, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => void this.probe(b), delay);
    t.unref();
    this.timers.set(b, t);
  }

  private async probe(b: Backend): Promise<void> {
    const h = b.config.health;
    const ok = await b.probe(h.path, h.timeoutMs);
    if (this.stopped) return;
    const changed = onProbe(b.state, b.config, ok);
    if (changed === false) {
      this.log.warn("backend failing its health probes: no requests until they pass", { backend: b.name, path: h.path, failed_in_a_row: b.state.probeFailures });
    } else if (changed === true) {
      this.log.info("backend passing its health probes again", { backend: b.name, path: h.path });
    }
    this.schedule(b, h.intervalMs);
  }
}
