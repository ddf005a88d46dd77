// The usage webhook on the real daemon (issue 7, point 3): a receiver on 127.0.0.1 that
// checks every POST's signature gets every record of the database, in batches of at most
// metering.webhook.batch, each record with its stable `id`. Through an outage (the
// receiver answering 503, then refusing connections) and a daemon restart in between,
// nothing is lost: the backlog grows, failures are counted and logged, and once the
// receiver is back every record arrives (a record seen twice has the same id and the
// same contents), the backlog returns to 0 and the daemon says delivery works again.
// Intervals are short so the tests are quick; every wait is on a receiver event, a log
// line or (where nothing else tells) a bounded scrape of /metrics.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { scrapeUntil } from "../helpers/prometheus.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { readOutbox, readUsageRecords, type StoredUsage } from "../helpers/usage-db.ts";
import { startWebhookReceiver, type WebhookReceiver, type WebhookRecord } from "../helpers/webhook-receiver.ts";

const SECRET = "whsec-metering-e2e-0123456789";
const BATCH = 5;

let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET);
});

afterAll(async () => {
  await receiver.stop();
});

function config(timeout = "2s"): string {
  return `database: usage.db
metering:
  flush_interval: 100ms
  webhook:
    url: ${receiver.url}
    secret: ${SECRET}
    batch: ${BATCH}
    interval: 100ms
    max_backoff: 300ms
    timeout: ${timeout}
    headers: { authorization: Bearer receiver-token, x-tenant: e2e }
backends:
  - { name: m, provider: mock, mock: { tokens: 4, delay: 0ms } }
models:
  - { name: llama, targets: [{ backend: m }] }
`;
}

async function chat(p: ProxyProcess, requestId: string, stream = false): Promise<void> {
  const res = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: "hi" }], stream }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

/** The request ids of the records the receiver acknowledged. */
function acknowledgedRequests(): Set<string> {
  return new Set([...receiver.accepted.values()].map((r) => r.request_id));
}

function waitForRequests(ids: readonly string[]): Promise<void> {
  return receiver.waitFor(() => {
    const have = acknowledgedRequests();
    return ids.every((id) => have.has(id));
  }, `the records of ${ids.length} requests acknowledged`);
}

/** A record as the webhook should carry it: the stored row, stream as a boolean, and its time. */
function asSent(row: StoredUsage): Record<string, unknown> {
  return { ...row, stream: row.stream === 1, time: new Date(row.ts).toISOString() };
}

const deliveryFailed = (l: LogLine) => l.msg.startsWith("webhook delivery failed");

describe("delivery to a working receiver", () => {
  test(
    "every batch is signed, carries the configured headers and holds at most `batch` records; every record of the database arrives, with its id and contents",
    async () => {
      const dir = tempDir("metering-webhook");
      const firstBatch = receiver.batches.length;
      const p = await startProxy({ dir, config: config() });
      const ids = Array.from({ length: 12 }, (_, i) => `hook-ok-${i}`);
      try {
        await Promise.all(ids.map((id, i) => chat(p, id, i % 2 === 1)));
        await waitForRequests(ids);
        // the backlog gauge is set once the daemon has read the receiver's 200: no event
        // tells the test when, so scrape until it shows 0
        await scrapeUntil(p.url, (e) => e.sum("llmproxy_webhook_backlog_records") === 0, "an empty webhook backlog");
      } finally {
        expect(await p.stop()).toBe(0);
      }
      const rows = readUsageRecords(join(dir, "usage.db"));
      expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
      expect(readOutbox(join(dir, "usage.db"))).toEqual([]);

      const batches = receiver.batches.slice(firstBatch);
      // 12 records, at most 5 a batch: at least 3 POSTs
      expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(ids.length / BATCH));
      for (const b of batches) {
        expect({ seq: b.seq, signatureOk: b.signatureOk, object: b.object, answered: b.answered }).toEqual({ seq: b.seq, signatureOk: true, object: "usage_batch", answered: 200 });
        expect(b.contentType).toBe("application/json");
        // the extra headers of the config come with every POST
        expect([b.headers.get("authorization"), b.headers.get("x-tenant")]).toEqual(["Bearer receiver-token", "e2e"]);
        expect(b.records.length).toBeGreaterThan(0);
        expect(b.records.length).toBeLessThanOrEqual(BATCH);
      }
      const received = new Map<string, WebhookRecord>();
      for (const b of batches) for (const r of b.records) received.set(r.id, r);
      expect([...received.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
      for (const row of rows) expect(received.get(row.id)).toEqual(asSent(row) as WebhookRecord);
      expect(receiver.conflicts).toEqual([]);
    },
    30_000,
  );
});

describe("an outage of the receiver, and a daemon restart in between", () => {
  test(
    "503s, then refused connections, then a restart: the backlog grows and failures are counted; once the receiver is back every record arrives, duplicates only with the same id",
    async () => {
      const dir = tempDir("metering-webhook-outage");
      const db = join(dir, "usage.db");
      const firstBatch = receiver.batches.length;
      const sent: string[] = [];
      const send = async (p: ProxyProcess, ids: string[]) => {
        await Promise.all(ids.map((id) => chat(p, id)));
        sent.push(...ids);
      };

      // 1. the receiver answers 503
      receiver.setMode("unavailable");
      let a: ProxyProcess | null = await startProxy({ dir, config: config() });
      try {
        const firstFailure = a.nextLog(deliveryFailed, "the first delivery failure");
        await send(a, ["outage-503-0", "outage-503-1", "outage-503-2", "outage-503-3"]);
        const failed = await firstFailure;
        expect(failed).toMatchObject({ level: "warn", error: "HTTP 503", failures_in_a_row: 1, url: receiver.url });
        // failures are logged at 1, 2, 4, 8, ... in a row: the second line proves the retry
        const second = await a.nextLog((l) => deliveryFailed(l) && l.failures_in_a_row === 2, "the second delivery failure");
        expect(second.error).toBe("HTTP 503");
        // the gauge and counter move with messages that log nothing: scrape until they show
        const during = await scrapeUntil(
          a.url,
          (e) => e.sum("llmproxy_webhook_backlog_records") > 0 && e.sum("llmproxy_webhook_deliveries_total", { result: "failure" }) >= 2,
          "a backlog and two failed deliveries",
        );
        expect(during.sum("llmproxy_webhook_deliveries_total", { result: "success" })).toBe(0);
        // the receiver saw the batches it refused: signed like any other
        expect(receiver.batches.slice(firstBatch).every((b) => b.answered === 503 && b.signatureOk)).toBe(true);

        // 2. the receiver goes away: connections are refused
        await receiver.close();
        const refused = a.nextLog((l) => deliveryFailed(l) && l.error !== "HTTP 503", "a delivery failure that is not a 503");
        await send(a, ["outage-refused-0", "outage-refused-1", "outage-refused-2"]);
        await refused;
        const grown = await scrapeUntil(a.url, (e) => e.sum("llmproxy_webhook_backlog_records") === sent.length, `a backlog of ${sent.length}`);
        // how far behind: the oldest waiting record was made before this outage's second part
        expect(grown.sum("llmproxy_webhook_oldest_record_age_seconds")).toBeGreaterThan(0);
        expect(grown.sum("llmproxy_webhook_deliveries_total", { result: "failure" })).toBeGreaterThan(during.sum("llmproxy_webhook_deliveries_total", { result: "failure" }));

        // 3. restart the daemon on the same database while the receiver is still away
        expect(await a.stop()).toBe(0);
        a = null;
      } finally {
        await a?.stop();
      }
      expect(readOutbox(db).length).toBe(sent.length);

      const b = await startProxy({ dir, config: config() });
      try {
        const fromBefore = await b.waitForLog((l) => l.msg === "usage records waiting for the webhook from before", "the backlog from before");
        expect(fromBefore.backlog).toBe(sent.length);
        // the gauge starts from the outbox, not from 0 (set as the metering starts: scrape)
        await scrapeUntil(b.url, (e) => e.sum("llmproxy_webhook_backlog_records") === sent.length, `a backlog of ${sent.length} after the restart`);
        const failedAgain = b.nextLog(deliveryFailed, "a delivery failure after the restart");
        await send(b, ["outage-restarted-0", "outage-restarted-1"]);
        expect((await failedAgain).error).not.toBe("HTTP 503");

        // 4. the receiver is back
        const works = b.nextLog((l) => l.msg === "webhook delivery works again", "delivery working again");
        receiver.setMode("accept");
        receiver.open();
        await waitForRequests(sent);
        const back = await works;
        expect(back.level).toBe("info");
        const after = await scrapeUntil(b.url, (e) => e.sum("llmproxy_webhook_backlog_records") === 0, "an empty webhook backlog");
        expect(after.sum("llmproxy_webhook_oldest_record_age_seconds")).toBe(0);
        expect(after.sum("llmproxy_webhook_deliveries_total", { result: "success" })).toBeGreaterThan(0);
        expect(after.sum("llmproxy_webhook_records_delivered_total")).toBeGreaterThanOrEqual(sent.length);
      } finally {
        expect(await b.stop()).toBe(0);
      }

      const rows = readUsageRecords(db);
      expect(rows.map((r) => r.request_id).sort()).toEqual([...sent].sort());
      expect(readOutbox(db)).toEqual([]);
      // every POST was signed, refused or not
      const batches = receiver.batches.slice(firstBatch);
      expect(batches.filter((x) => !x.signatureOk).map((x) => x.seq)).toEqual([]);
      for (const x of batches) expect(x.records.length).toBeLessThanOrEqual(BATCH);
      // acknowledged: exactly the database's records, by id
      const acknowledged = new Map<string, WebhookRecord>();
      for (const x of batches) if (x.answered === 200) for (const r of x.records) acknowledged.set(r.id, r);
      expect([...acknowledged.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
      // everything that arrived (refused batches too): one id per request, the same contents each time
      const idOfRequest = new Map<string, string>();
      const contents = new Map<string, string>();
      for (const x of batches) {
        for (const r of x.records) {
          expect([r.request_id, idOfRequest.get(r.request_id) ?? r.id]).toEqual([r.request_id, r.id]);
          idOfRequest.set(r.request_id, r.id);
          const json = JSON.stringify(r);
          expect([r.id, contents.get(r.id) ?? json]).toEqual([r.id, json]);
          contents.set(r.id, json);
        }
      }
      for (const row of rows) expect(acknowledged.get(row.id)).toEqual(asSent(row) as WebhookRecord);
    },
    60_000,
  );
});

describe("at least once", () => {
  test(
    "a batch whose answer is lost is sent again after the timeout: the receiver sees those records twice, with the same ids and contents",
    async () => {
      const dir = tempDir("metering-webhook-lost");
      const db = join(dir, "usage.db");
      const firstBatch = receiver.batches.length;
      const duplicatesBefore = receiver.duplicates;
      const p = await startProxy({ dir, config: config("300ms") });
      const ids = Array.from({ length: 3 }, (_, i) => `hook-lost-${i}`);
      try {
        receiver.setMode("lose-answer");
        const lost = receiver.nextBatch();
        const timedOut = p.nextLog((l) => l.msg.startsWith("webhook delivery failed"), "the delivery failure after the lost answer");
        await Promise.all(ids.map((id) => chat(p, id)));
        const taken = await lost;
        receiver.setMode("accept");
        expect(taken.records.length).toBeGreaterThan(0);
        expect(String((await timedOut).error)).toContain("300 ms");
        await waitForRequests(ids);
        // the records of the lost answer come again
        await receiver.waitFor(() => receiver.duplicates - duplicatesBefore >= taken.records.length, "the lost batch sent again");
        await scrapeUntil(p.url, (e) => e.sum("llmproxy_webhook_backlog_records") === 0, "an empty webhook backlog");
      } finally {
        expect(await p.stop()).toBe(0);
      }
      const rows = readUsageRecords(db);
      expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
      expect(readOutbox(db)).toEqual([]);
      expect(receiver.conflicts).toEqual([]);
      const batches = receiver.batches.slice(firstBatch);
      expect(batches.every((b) => b.signatureOk)).toBe(true);
      const again = batches.filter((b) => b.answered === 200).flatMap((b) => b.records);
      for (const r of batches[0]!.records) expect(again.find((x) => x.id === r.id)).toEqual(r);
      const byId = new Set(batches.flatMap((b) => b.records.map((r) => r.id)));
      expect([...byId].sort()).toEqual(rows.map((r) => r.id).sort());
    },
    30_000,
  );
});

describe("shutdown while a POST waits for its answer", () => {
  test(
    "SIGTERM does not wait for the webhook's timeout: the POST is abandoned, the daemon exits 0 and the batch stays in the outbox for the next start",
    async () => {
      const dir = tempDir("metering-webhook-held");
      const db = join(dir, "usage.db");
      // a timeout longer than this test's own: if the shutdown waited for it, the test would time out
      const p = await startProxy({ dir, config: config("60s") });
      const ids = ["hook-held-0", "hook-held-1"];
      try {
        receiver.setMode("lose-answer");
        const held = receiver.nextBatch();
        await Promise.all(ids.map((id) => chat(p, id)));
        await held;
        expect(await p.stop()).toBe(0);
      } finally {
        receiver.setMode("accept");
        await p.stop();
      }
      const rows = readUsageRecords(db);
      expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
      // not acknowledged, so still owed
      expect(readOutbox(db)).toEqual(rows.map((r) => r.id).sort());

      // the next start delivers them
      const again = await startProxy({ dir, config: config() });
      try {
        await receiver.waitFor(() => rows.every((r) => receiver.batches.some((b) => b.answered === 200 && b.records.some((x) => x.id === r.id))), "the held records delivered after the restart");
        await scrapeUntil(again.url, (e) => e.sum("llmproxy_webhook_backlog_records") === 0, "an empty webhook backlog");
      } finally {
        expect(await again.stop()).toBe(0);
      }
      expect(readOutbox(db)).toEqual([]);
    },
    20_000,
  );
});
