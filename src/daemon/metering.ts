// The daemon's metering: every usage result goes to the metering worker (its own
// thread and database connection), which stores it, sends it to the webhook and deletes
// old records. This side batches the records, forwards config changes, and turns the
// worker's reports into metrics and log lines.

import type { Config } from "../config/types.ts";
import { edges } from "../edges/edges.ts";
import type { Logger } from "../log/logger.ts";
import { UsageWriter } from "../metering/usage-writer.ts";
import type { FromWorker, MeteringSettings, ReportResult, ToWorker } from "../metering/worker-protocol.ts";
import type { UsageQuery } from "../store/usage-report.ts";
import { metrics, setWebhookOldest } from "../metrics/metrics.ts";
import type { Services } from "../runtime/services.ts";

/** How long a shutdown waits for the worker's last writes. */
export const STOP_WAIT_MS = 15_000;

export interface Metering {
  /** The config changed (a reload): new webhook and retention settings. */
  configure(config: Config): void;
  /** A usage report over the records written so far, this process's last ones included. */
  report(query: UsageQuery): Promise<ReportResult>;
  /** Hand over every waiting record, let the worker write them, stop it (shutdown). */
  stop(): Promise<void>;
}

function settingsOf(config: Config): MeteringSettings {
  return { webhook: config.metering.webhook, retentionMs: config.metering.retentionMs };
}

export function startMetering(config: Config, services: Services, log: Logger): Metering {
  const worker = edges.startThread("metering");
  const send = (m: ToWorker) => worker.post(m);
  let current = config;
  let stopped: (() => void) | null = null;
  /** The worker died (it cannot answer "stopped"). */
  let failed = false;
  const reports = new Map<number, (r: ReportResult) => void>();
  let nextReport = 0;

  worker.onMessage((message) => {
    const m = message as FromWorker;
    switch (m.type) {
      case "ready":
        metrics.webhookBacklog.set(m.backlog);
        setWebhookOldest(m.oldestAt);
        return;
      case "written":
        metrics.usageRecordsWritten.inc(m.records);
        return;
      case "write_failed":
        if (m.records < 0) {
          metrics.usageRecordsDropped.inc(-m.records);
          log.error("usage records dropped: the database has not been writable for too long", { dropped: -m.records });
        } else log.error("cannot write usage records; they are kept and written again", { records: m.records, error: m.error });
        return;
      case "delivery":
        metrics.webhookDeliveries.labels(m.result).inc();
        if (m.records) metrics.webhookRecords.inc(m.records);
        return;
      case "backlog":
        metrics.webhookBacklog.set(m.records);
        setWebhookOldest(m.oldestAt);
        return;
      case "log":
        log[m.level](m.msg, m.fields);
        return;
      case "report":
        reports.get(m.id)?.(m.result);
        reports.delete(m.id);
        return;
      case "debited":
        services.keys?.debitsWritten(m.id, m.from, m.to);
        return;
      case "debit_failed":
        services.keys?.debitsUnwritten(m.id, m.error);
        return;
      case "stopped":
        stopped?.();
        return;
    }
  });
  worker.onError((e) => {
    failed = true;
    // quota debits out to it wait again, and are written on the event loop from now on
    services.keys?.useWriter(null);
    log.error("the metering worker failed; usage records are not stored", { error: e.message });
    for (const answer of reports.values()) answer({ ok: false, error: "the metering worker failed" });
    reports.clear();
    stopped?.();
  });
  send({ type: "init", database: config.database, settings: settingsOf(config) });

  const writer = new UsageWriter(
    (rows, final) => send({ type: "rows", json: JSON.stringify(rows), final }),
    () => current.metering.flushIntervalMs,
  );
  const removeSink = services.usage.addSink(writer);
  // Quota debits are written by the worker too: a batch of many keys' debits took the
  // event loop ~13 us a key (1000 keys active in a second: 13-17 ms). An in-memory
  // database is each thread's own: the keys' counters stay with the event loop's.
  if (config.database !== ":memory:") services.keys?.useWriter((batch) => send({ type: "debits", id: batch.id, debits: batch.debits }));

  return {
    configure(next) {
      current = next;
      send({ type: "settings", settings: settingsOf(next) });
    },
    report(query) {
      if (failed) return Promise.resolve({ ok: false, error: "the metering worker failed" });
      // the rows waiting in this thread go first, so the report includes them
      writer.flush();
      const id = nextReport++;
      return new Promise((resolve) => {
        reports.set(id, resolve);
        send({ type: "report", id, query });
      });
    },
    async stop() {
      removeSink();
      writer.flush();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        new Promise<boolean>((r) => {
          if (failed) return r(true);
          stopped = () => r(true);
          send({ type: "stop" });
        }),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (!done) log.error("the metering worker did not finish its writes in time", { waited_ms: STOP_WAIT_MS });
      worker.terminate();
    },
  };
}
