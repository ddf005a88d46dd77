// metering.retention on the real daemon (issue 7, point 5). Waiting out a retention is
// not a test, so the old records are written straight into the database of a stopped
// daemon (as a restore or another process would leave them); the daemon cleans up when
// it starts (and hourly): records older than the retention go, unless the webhook has not
// received them yet; newer ones stay; retention 0s keeps everything.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startProxy } from "../helpers/proxy.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { insertUsageRecords, readOutbox, readUsageRecords, type StoredUsage } from "../helpers/usage-db.ts";

const DAY = 24 * 60 * 60_000;

function config(retention: string): string {
  return `database: usage.db
metering: { retention: ${retention} }
backends:
  - { name: m, provider: mock, mock: { tokens: 2, delay: 0ms } }
models:
  - { name: llama, targets: [{ backend: m }] }
`;
}

function row(id: string, ts: number): StoredUsage {
  return {
    id,
    request_id: `req-${id}`,
    ts,
    key_id: null,
    endpoint: "/v1/chat/completions",
    model: "llama",
    route: "llama",
    backend: "m",
    upstream_model: "llama",
    stream: 0,
    prompt_tokens: 3,
    completion_tokens: 2,
    cached_tokens: 0,
    cache_write_tokens: 0,
    usage_source: "backend",
    status: 200,
    error_code: null,
    latency_ms: 1.5,
    ttft_ms: 1.2,
    retries: 0,
    bytes_in: 60,
    bytes_out: 300,
    client_ip: "127.0.0.1",
    traceparent: null,
  };
}

/** A database with the daemon's schema: one start and a clean stop. */
async function preparedDatabase(prefix: string): Promise<{ dir: string; db: string }> {
  const dir = tempDir(prefix);
  const p = await startProxy({ dir, config: config("30d") });
  expect(await p.stop()).toBe(0);
  return { dir, db: join(dir, "usage.db") };
}

describe("metering.retention", () => {
  test(
    "at start the daemon deletes records older than the retention, keeps newer ones, and keeps old ones still owed to the webhook",
    async () => {
      const { dir, db } = await preparedDatabase("metering-retention");
      const now = Date.now();
      insertUsageRecords(
        db,
        [row("old-delivered", now - 2 * DAY), row("old-owed", now - 2 * DAY), row("recent", now - 60 * 60_000)],
        // old-owed is still in the outbox: the webhook has not acknowledged it
        ["old-owed"],
      );

      const p = await startProxy({ dir, config: config("1d") });
      try {
        const deleted = await p.waitForLog((l) => l.msg === "old usage records deleted", "the retention cleanup line");
        expect(deleted).toMatchObject({ level: "info", records: 1, retention_ms: DAY });
        // the daemon serves and records as usual beside it
        const res = await fetch(`${p.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": "after-cleanup" },
          body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: "hi" }] }),
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      } finally {
        expect(await p.stop()).toBe(0);
      }
      const ids = readUsageRecords(db).map((r) => r.request_id).sort();
      expect(ids).toEqual(["after-cleanup", "req-old-owed", "req-recent"]);
      expect(readOutbox(db)).toEqual(["old-owed"]);
    },
    30_000,
  );

  test(
    "retention 0s keeps records of any age",
    async () => {
      const { dir, db } = await preparedDatabase("metering-retention-zero");
      insertUsageRecords(db, [row("ancient", Date.now() - 400 * DAY)]);
      const p = await startProxy({ dir, config: config("0s") });
      // a clean stop waits for the metering to finish its start-up work (cleanup included)
      expect(await p.stop()).toBe(0);
      expect(p.logs.some((l) => l.msg === "old usage records deleted")).toBe(false);
      expect(readUsageRecords(db).map((r) => r.id)).toEqual(["ancient"]);
    },
    30_000,
  );
});
