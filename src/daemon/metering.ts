// The daemon's metering: every usage result goes to the database (UsageWriter), from
// there to the webhook (WebhookSender), and old records are deleted after
// metering.retention. Settings are read from the config in force, so a reload changes
// them without a restart.

import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { UsageWriter } from "../metering/usage-writer.ts";
import { WebhookSender } from "../metering/webhook.ts";
import type { Services } from "../runtime/services.ts";
import type { Store } from "../store/store.ts";
import { UsageRecordStore } from "../store/usage-records.ts";

const RETENTION_EVERY_MS = 60 * 60_000;

export interface Metering {
  /** Write every queued record and stop the webhook and the cleanup (at shutdown). */
  stop(): Promise<void>;
}

export function startMetering(store: Store, config: () => Config, services: Services, log: Logger): Metering {
  const records = new UsageRecordStore(store.db);
  const sender = new WebhookSender(records, () => config().metering.webhook, log);
  const writer = new UsageWriter(
    records,
    () => ({ flushIntervalMs: config().metering.flushIntervalMs, webhook: config().metering.webhook !== null }),
    log,
    (n) => sender.queued(n),
  );
  const removeSink = services.usage.addSink(writer);
  sender.start();

  const cleanup = () => {
    const keep = config().metering.retentionMs;
    if (keep <= 0) return;
    try {
      const n = records.deleteBefore(Date.now() - keep);
      if (n > 0) log.info("old usage records deleted", { records: n, retention_ms: keep });
    } catch (err) {
      log.error("cannot delete old usage records", { error: String(err) });
    }
  };
  cleanup();
  const retention = setInterval(cleanup, RETENTION_EVERY_MS);
  retention.unref();

  return {
    async stop() {
      clearInterval(retention);
      removeSink();
      writer.flush();
      await sender.stop();
    },
  };
}
