// The daemon: load the config, build the runtime, serve, reload on change, drain on
// SIGTERM/SIGINT. Returns the exit code once it has stopped.

import { formatIssue } from "../config/format.ts";
import { ConfigReadError, loadConfigFile, loadConfigObject, type LoadResult } from "../config/load.ts";
import type { ListenAddress } from "../config/types.ts";
import { CliError, EXIT } from "../cli/exit.ts";
import { VERSION } from "../cli/version.ts";
import { listenFlag } from "../cli/flags.ts";
import { log } from "../log/logger.ts";
import { Runtime, RuntimeHolder } from "../runtime/runtime.ts";
import { createServices } from "../runtime/services.ts";
import { createApp } from "../server/app.ts";
import { edges, type ServerHandle } from "../edges/edges.ts";
import { errorBody } from "../errors.ts";
import { setBackendSource } from "../metrics/metrics.ts";
import { KeyService } from "../auth/key-service.ts";
import { openStore, type Store } from "../store/store.ts";
import { startMetering } from "./metering.ts";
import { watchConfig, type ConfigWatcher } from "./config-watcher.ts";
import { demoBanner, demoConfig } from "./demo-config.ts";
import { applyProcessSettings, markLoaded, Reloader } from "./reloader.ts";
import { exitWhenStdinCloses } from "../cli/exit-with-parent.ts";
import { startGcNudge } from "./gc-nudge.ts";

/** After cutting the requests a shutdown could not drain: how long their error events get to go out before the sockets close. */
export const CUT_GRACE_MS = 1000;

export interface DaemonOptions {
  /** Config file; null with demo. */
  file: string | null;
  demo: boolean;
  /** --listen: overrides the config's listen address. */
  listen: string | null;
}

function formatUrl(a: ListenAddress): string {
  const host = a.host.includes(":") ? `[${a.host}]` : a.host;
  return `http://${host}:${a.port}`;
}

async function loadInitial(opts: DaemonOptions): Promise<LoadResult> {
  if (opts.demo) return loadConfigObject(demoConfig(opts.listen ?? "127.0.0.1:8080"), "<demo>");
  try {
    return await loadConfigFile(opts.file!);
  } catch (err) {
    if (err instanceof ConfigReadError) throw new CliError(err.message, EXIT.USAGE);
    throw err;
  }
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const first = await loadInitial(opts);
  if (!first.ok) {
    const lines = first.issues.map((i) => formatIssue(first.file, i));
    throw new CliError(`invalid config, not starting:\n${lines.join("\n")}`, EXIT.FAILURE);
  }
  let listen = first.loaded.config.listen;
  if (opts.listen) listen = listenFlag("--listen", opts.listen);

  // The key store: keys for auth, quota counters. Opened once; `database` is restart-only.
  let store: Store;
  try {
    store = openStore(first.loaded.config.database);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), EXIT.FAILURE);
  }
  const keys = new KeyService(store.db, store.keys, log);
  keys.start();
  const services = createServices(log, keys);
  applyProcessSettings(first.loaded.config, services);
  const holder = new RuntimeHolder(new Runtime(first.loaded, services));
  holder.current.start();
  const metering = startMetering(holder.current.config, services, log);
  markLoaded(first.loaded.hash);
  setBackendSource(() => {
    const healthy = new Set(holder.current.healthyBackends());
    return [...holder.current.backends.values()].map((b) => ({ name: b.name, up: healthy.has(b.name), inflight: b.state.inflight }));
  });
  const lifecycle = { draining: false };
  const reloader = new Reloader(opts.demo ? null : () => loadConfigFile(opts.file!), holder, services, log, {
    // The config's own listen, not a --listen override: a reload compares config with
    // config, or every reload under --listen would report "listen changed".
    listen: first.loaded.config.listen,
    keepAliveMs: first.loaded.config.server.keepAliveMs,
    database: first.loaded.config.database,
  }, (config) => metering.configure(config));
  const app = createApp({ holder, services, lifecycle, reload: () => reloader.reload("admin API"), usageReport: (q) => metering.report(q) });

  let server: ServerHandle;
  try {
    server = await edges.startServer({
      host: listen.host,
      port: listen.port,
      keepAliveSeconds: Math.round(first.loaded.config.server.keepAliveMs / 1000),
      handler: app,
      onError: (err) => {
        log.error("unhandled error in request", { error: String(err), stack: (err as Error)?.stack });
        return new Response(errorBody("internal_error", "Internal error in the gateway.", "server_error"), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    });
  } catch (err) {
    const why = (err as { code?: string })?.code === "EADDRINUSE" ? "the address is in use" : err instanceof Error ? err.message : String(err);
    throw new CliError(`cannot listen on ${formatUrl(listen)}: ${why}${opts.demo ? " (pick another with --listen 127.0.0.1:0)" : ""}`, EXIT.FAILURE);
  }
  // Signal handlers go in before "listening" is announced: a supervisor (or a test) may
  // signal as soon as it reads that line, and an unhandled SIGTERM/SIGHUP kills at once.
  let watcher: ConfigWatcher | null = null;
  const onHup = () => void reloader.reload("SIGHUP");
  process.on("SIGHUP", onHup);
  startGcNudge();
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn("second signal: stopping now without waiting for requests in flight", { signal });
      await server.stop(true);
      return;
    }
    stopping = true;
    lifecycle.draining = true;
    holder.current.stop();
    const drainMs = holder.current.config.server.drainTimeoutMs;
    const inFlight = server.pending();
    // Stop accepting before saying so: once the line below is out, a new connection is
    // refused (Bun closes the listening socket synchronously in stop()).
    const closed = server.stop(false).then(() => false);
    log.info("shutting down: no new connections, waiting for requests in flight", {
      signal,
      in_flight: inFlight,
      drain_timeout_ms: drainMs,
    });
    process.off("SIGHUP", onHup);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = Promise.race([closed, new Promise<boolean>((r) => (timer = setTimeout(() => r(true), drainMs)))]);
    await watcher?.close();
    if (await timedOut) {
      clearTimeout(timer);
      log.warn("drain timeout reached: cutting the requests still in flight", { in_flight: server.pending(), drain_timeout_ms: drainMs });
      // Cut them ourselves first: each stream ends with an error event saying why and its
      // record says shutting_down. Closing the sockets alone would pass for clients that
      // left (499). What has not ended a moment later (a body still uploading) is closed.
      services.inFlight.cutAll();
      const grace = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), CUT_GRACE_MS)));
      if (await Promise.race([closed, grace])) await server.stop(true);
    }
    clearTimeout(timer);
    // Usage results of cut requests are recorded as their streams end; let them run.
    await holder.current.drained();
    // every request has ended: its usage record is queued; write them all
    keys.stop(); // the last quota debits go to the metering worker, before its stop
    await metering.stop();
    keys.closeWriter(); // what the worker did not confirm is written here
    store.close();
    log.info("stopped", { signal });
    resolveExit(EXIT.OK);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // started by `llmproxy bench`: stop when it is gone, however it ended
  exitWhenStdinCloses(() => void shutdown("stdin closed"));

  if (!opts.demo && opts.file) {
    watcher = watchConfig(
      opts.file,
      (why) => void reloader.reload(why),
      (err) => log.warn("cannot watch the config file; reload with SIGHUP or POST /admin/reload", { error: String(err) }),
    );
    // Watch before saying "listening": an edit made right after that line must be seen.
    // A signal meanwhile (a stop during start-up) closes the watcher, whose ready then
    // never comes: the shutdown's end is waited for instead.
    await Promise.race([watcher.ready, exited]);
  }
  if (stopping) return await exited;
  const bound = { host: listen.host, port: server.port };
  const url = formatUrl(bound);
  log.info("listening", {
    url,
    version: VERSION,
    config: opts.demo ? "<demo>" : opts.file,
    config_hash: holder.current.hash.slice(0, 12),
    backends: holder.current.config.backends.length,
    models: holder.current.routes.names().length,
    pid: process.pid,
  });
  if (opts.demo) process.stdout.write(demoBanner(url, VERSION));

  return await exited;
}
