// examples/webhook-receiver.ts, the receiver the README points to: its verification
// accepts what src/metering/webhook.ts signs and refuses anything changed, and it counts
// a record delivered twice once, with the gateway's real sender on the other end.

import { describe, expect, test } from "bun:test";
import { createReceiver, MAX_AGE_SECONDS, verify } from "../../examples/webhook-receiver.ts";
import { Logger } from "../../src/log/logger.ts";
import type { UsageResult } from "../../src/metering/usage.ts";
import { usageRow } from "../../src/metering/usage-writer.ts";
import { batchBody, signature, WebhookSender, type DeliveryEvents } from "../../src/metering/webhook.ts";
import { openStore } from "../../src/store/store.ts";
import { UsageRecordStore } from "../../src/store/usage-records.ts";

const SECRET = "whsec-test-0123456789abcdef";

function result(over: Partial<UsageResult> = {}): UsageResult {
  return {
    requestId: "req-1",
    startedAt: 1_764_000_000_000,
    keyId: "key_receivertest00001",
    endpoint: "/v1/chat/completions",
    requestedModel: "gpt-test",
    route: "gpt-test",
    backend: "b1",
    upstreamModel: "gpt-test",
    stream: true,
    promptTokens: 10,
    completionTokens: 5,
    cachedTokens: 4,
    cacheWriteTokens: 0,
    totalTokens: 15,
    source: "backend",
    status: 200,
    errorCode: null,
    ttftMs: 12.5,
    latencyMs: 40.25,
    retries: 0,
    bytesIn: 100,
    bytesOut: 200,
    clientIp: "127.0.0.1",
    traceparent: null,
    ...over,
  };
}

describe("verify", () => {
  const body = batchBody([usageRow(result()), usageRow(result({ requestedModel: "other \u00e9\u{1F600}" }))]);
  const now = 1_764_000_000;
  const ts = String(now);
  const sig = signature(SECRET, ts, body);

  test("accepts what the gateway signs, as text or as the bytes received", () => {
    expect(verify(SECRET, ts, sig, body, now)).toEqual({ ok: true });
    expect(verify(SECRET, ts, sig, new TextEncoder().encode(body), now)).toEqual({ ok: true });
  });

  test("refuses a changed body, timestamp, signature or secret", () => {
    expect(verify(SECRET, ts, sig, body.replace('"prompt_tokens":10', '"prompt_tokens":1'), now).ok).toBe(false);
    expect(verify(SECRET, ts, sig, body + " ", now).ok).toBe(false);
    expect(verify(SECRET, String(now - 1), sig, body, now).ok).toBe(false);
    const flipped = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
    expect(verify(SECRET, ts, flipped, body, now)).toEqual({ ok: false, reason: "signature does not match" });
    expect(verify("another-secret-0123456789", ts, sig, body, now).ok).toBe(false);
  });

  test("refuses missing or malformed headers", () => {
    expect(verify(SECRET, null, sig, body, now).ok).toBe(false);
    expect(verify(SECRET, ts, null, body, now).ok).toBe(false);
    expect(verify(SECRET, "12.5", sig, body, now).ok).toBe(false);
    expect(verify(SECRET, ts, sig.slice("sha256=".length), body, now).ok).toBe(false);
    expect(verify(SECRET, ts, sig.slice(0, -2), body, now).ok).toBe(false);
    expect(verify(SECRET, ts, "sha1=" + sig.slice("sha256=".length), body, now).ok).toBe(false);
  });

  test("refuses a timestamp more than 5 minutes away (a replay), either way", () => {
    for (const [at, ok] of [
      [now - MAX_AGE_SECONDS, true],
      [now - MAX_AGE_SECONDS - 1, false],
      [now + MAX_AGE_SECONDS, true],
      [now + MAX_AGE_SECONDS + 1, false],
    ] as const) {
      const t = String(at);
      expect(verify(SECRET, t, signature(SECRET, t, body), body, now).ok).toBe(ok);
    }
    expect(MAX_AGE_SECONDS).toBe(300);
  });
});

describe("the receiver", () => {
  test("takes signed batches, refuses unsigned ones, and counts a record sent twice once", async () => {
    const lines: string[] = [];
    const r = createReceiver(SECRET, (l) => lines.push(l));
    const rows = [usageRow(result()), usageRow(result({ requestedModel: "m2", keyId: null, promptTokens: 7, cachedTokens: 0, cacheWriteTokens: 0 }))];
    const body = batchBody(rows);
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (headers: Record<string, string>) => r.fetch(new Request("http://receiver/usage", { method: "POST", headers, body }));

    expect((await post({ "x-llmproxy-timestamp": ts, "x-llmproxy-signature": "sha256=" + "0".repeat(64) })).status).toBe(401);
    expect((await post({})).status).toBe(401);
    expect(r.totals.size).toBe(0);

    const signed = { "x-llmproxy-timestamp": ts, "x-llmproxy-signature": signature(SECRET, ts, body) };
    expect((await post(signed)).status).toBe(204);
    expect((await post(signed)).status).toBe(204); // the same batch again: its 2xx was lost
    expect(r.duplicates).toBe(2);
    expect(r.totals.get("key_receivertest00001")?.get("gpt-test")).toEqual({ requests: 1, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4 });
    expect(r.totals.get("-")?.get("m2")).toEqual({ requests: 1, prompt_tokens: 7, completion_tokens: 5, cached_tokens: 0 });
    expect(lines.some((l) => l.includes("refused a batch"))).toBe(true);
  });

  test("with the gateway's WebhookSender: a batch whose answer was lost is sent again and counted once", async () => {
    const store = openStore(":memory:");
    const records = new UsageRecordStore(store.db);
    const received = createReceiver(SECRET, () => {});
    let posts = 0;
    const seen = { delivered: 0, failed: 0 };
    const events: DeliveryEvents = { delivered: (n) => (seen.delivered += n), failed: () => seen.failed++, backlog: () => {} };
    // the first POST is taken but answered 500, as if the 2xx had been lost on the way
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        posts++;
        const res = await received.fetch(req);
        return posts === 1 ? new Response("lost", { status: 500 }) : res;
      },
    });
    const sender = new WebhookSender(
      records,
      () => ({ url: `http://127.0.0.1:${server.port}/usage`, secret: SECRET, batch: 10, intervalMs: 10, timeoutMs: 2000, maxBackoffMs: 40, headers: {} }),
      new Logger({ level: "error", format: "json", write: () => {} }),
      events,
    );
    try {
      const rows = [0, 1, 2].map((i) => usageRow(result({ requestId: `req-${i}`, promptTokens: 1 + i })));
      records.insert(rows, true, Date.now());
      sender.queued(rows.length);
      sender.start();
      const deadline = Date.now() + 5000;
      while (records.backlog() > 0 && Date.now() < deadline) await Bun.sleep(10);
      expect(records.backlog()).toBe(0);
      expect(posts).toBe(2);
      expect(seen).toEqual({ delivered: 3, failed: 1 });
      expect(received.duplicates).toBe(3);
      expect(received.totals.get("key_receivertest00001")?.get("gpt-test")).toEqual({ requests: 3, prompt_tokens: 6, completion_tokens: 15, cached_tokens: 12 });
    } finally {
      await sender.stop();
      server.stop(true);
      store.close();
    }
  });
});
