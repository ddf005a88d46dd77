// Reload = build, swap, dispose. A new config is loaded and checked in full, a whole new
// runtime is built from it, and only then swapped in with one assignment; anything that
// fails on the way leaves the running config in force. An unchanged config (same hash)
// is skipped. Settings that need a restart are named in the log and not applied.

import { formatIssue } from "../config/format.ts";
import { ConfigReadError, type LoadResult } from "../config/load.ts";
import type { Config, ListenAddress } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { metrics } from "../metrics/metrics.ts";
import { Runtime, type RuntimeHolder } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import type { ReloadOutcome } from "../server/app.ts";

export type ConfigSource = () => Promise<LoadResult>;

/** The settings read once at start; a change is reported, not applied. */
export interface StartSettings {
  listen: ListenAddress;
  keepAliveMs: number;
  database: string;
}

function restartOnlyChanges(start: StartSettings, next: Config): string[] {
  const out: string[] = [];
  if (start.listen.host !== next.listen.host || start.listen.port !== next.listen.port) out.push("listen");
  if (start.keepAliveMs !== next.server.keepAliveMs) out.push("server.keepalive_timeout");
  if (start.database !== next.database) out.push("database");
  return out;
}

export function applyProcessSettings(config: Config, services: Services): void {
  services.log.configure({ level: config.log.level, format: config.log.format });
  services.usage.accessLog = config.log.access;
  services.usage.keyLabels = config.metrics.keyLabels;
}

export function markLoaded(hash: string): void {
  metrics.lastReloadSuccess.set(Date.now() / 1000);
  metrics.lastReloadOk.set(1);
  metrics.configInfo.reset();
  metrics.configInfo.labels(hash).set(1);
}

export class Reloader {
  /** Reloads run one at a time; a trigger during a reload queues one more. */
  private running: Promise<ReloadOutcome> | null = null;
  private queued: Promise<ReloadOutcome> | null = null;

  constructor(
    private readonly source: ConfigSource | null,
    private readonly holder: RuntimeHolder,
    private readonly services: Services,
    private readonly log: Logger,
    /** What the daemon started with, for the restart-only settings. */
    private readonly start: StartSettings,
    /** Told the new config once it is in force (what is not part of a runtime). */
    private readonly applied: (config: Config) => void = () => {},
  ) {}

  reload(trigger: string): Promise<ReloadOutcome> {
    if (!this.running) {
      this.running = this.run(trigger).finally(() => (this.running = null));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.reload(trigger);
    });
    return this.queued;
  }

  private async run(trigger: string): Promise<ReloadOutcome> {
    const current = this.holder.current;
    if (!this.source) {
      this.log.info("reload requested but there is no config file to reload (demo)", { trigger });
      return { result: "unchanged", hash: current.hash, errors: [], restartRequired: [] };
    }
    let result: LoadResult;
    try {
      result = await this.source();
    } catch (err) {
      const msg = err instanceof ConfigReadError ? err.message : `cannot load config: ${String(err)}`;
      return this.failed(trigger, [msg]);
    }
    if (!result.ok) return this.failed(trigger, result.issues.map((i) => formatIssue(result.file, i)));
    const loaded = result.loaded;
    if (loaded.hash === current.hash) {
      metrics.reloads.labels("unchanged").inc();
      metrics.lastReloadOk.set(1);
      this.log.info("config unchanged, nothing to reload", { trigger, config: loaded.hash.slice(0, 12) });
      return { result: "unchanged", hash: loaded.hash, errors: [], restartRequired: [] };
    }
    let next: Runtime;
    try {
      next = new Runtime(loaded, this.services);
    } catch (err) {
      return this.failed(trigger, [`cannot build the new config: ${err instanceof Error ? err.message : String(err)}`]);
    }
    const restartRequired = restartOnlyChanges(this.start, loaded.config);
    const old = this.holder.swap(next);
    old.stop();
    next.start();
    applyProcessSettings(loaded.config, this.services);
    this.applied(loaded.config);
    metrics.reloads.labels("success").inc();
    markLoaded(loaded.hash);
    this.log.info("config reloaded", {
      trigger,
      config: loaded.hash.slice(0, 12),
      previous: old.hash.slice(0, 12),
      in_flight_on_previous: old.inFlight(),
    });
    for (const setting of restartRequired) {
      this.log.warn(`${setting} changed in the config but needs a restart to take effect; still using the value the daemon started with`, {
        setting,
      });
    }
    // Dispose the old runtime once its last request finished.
    void old.drained().then(() => {
      this.services.states.prune(new Set(this.holder.current.backends.keys()));
      this.log.debug("previous config retired", { config: old.hash.slice(0, 12) });
    });
    return { result: "success", hash: loaded.hash, errors: [], restartRequired };
  }

  private failed(trigger: string, errors: string[]): ReloadOutcome {
    metrics.reloads.labels("failure").inc();
    metrics.lastReloadOk.set(0);
    this.log.error("config reload failed; the running config stays in force", { trigger, errors });
    return { result: "failure", hash: this.holder.current.hash, errors, restartRequired: [] };
  }
}
