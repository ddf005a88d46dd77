// A minimal receiver for llmproxy's usage webhook (metering.webhook), to copy from.
//
//   WEBHOOK_SECRET=... bun examples/webhook-receiver.ts      # listens on :9000 (PORT=...)
//
// with, in llmproxy.yaml:
//
//   metering:
//     webhook:
//       url: http://127.0.0.1:9000/usage
//       secret: ${WEBHOOK_SECRET}
//
// Each POST carries {"object":"usage_batch","records":[...]} and two headers:
//   x-llmproxy-timestamp: UNIX-SECONDS
//   x-llmproxy-signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))
// The receiver checks the signature over the raw body (before parsing it), refuses
// timestamps more than 5 minutes away from its clock (a replayed old batch), and drops
// records whose `id` it has seen: delivery is at least once, so a batch whose 2xx was
// lost is sent again. Anything but a 2xx makes llmproxy retry the batch (with backoff,
// for as long as it takes), so answer 2xx only once the records are stored, and never
// refuse a correctly signed batch for good.

import { createHmac, timingSafeEqual } from "node:crypto";

/** How far the batch's timestamp may be from the receiver's clock, either way. */
export const MAX_AGE_SECONDS = 5 * 60;

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks a batch's signature headers against its raw body. `body` must be the bytes as
 * received (or their exact text): re-serialized JSON would not match.
 */
export function verify(
  secret: string,
  timestamp: string | null,
  signature: string | null,
  body: string | Uint8Array,
  nowSeconds: number = Date.now() / 1000,
): Verdict {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "missing or malformed x-llmproxy-timestamp" };
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_AGE_SECONDS) return { ok: false, reason: "timestamp too old (or too far ahead)" };
  const m = /^sha256=([0-9a-f]{64})$/.exec(signature ?? "");
  if (!m) return { ok: false, reason: "missing or malformed x-llmproxy-signature" };
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  // constant-time: the comparison takes as long whichever byte differs
  if (!timingSafeEqual(expected, Buffer.from(m[1]!, "hex"))) return { ok: false, reason: "signature does not match" };
  return { ok: true };
}

/** The fields of a usage record this receiver uses (the batch has them all; see the README). */
export interface UsageRecord {
  id: string;
  time: string;
  key_id: string | null;
  model: string;
  backend: string;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  usage_source: string;
}

export interface Totals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

export interface Receiver {
  fetch(req: Request): Promise<Response>;
  /** Totals by key id ("-" for requests without a key), then by model the client sent. */
  totals: Map<string, Map<string, Totals>>;
  /** Records received twice (and counted once). */
  duplicates: number;
}

export function createReceiver(secret: string, log: (line: string) => void = console.log, now: () => number = () => Date.now() / 1000): Receiver {
  // Ids already counted. In memory here (a restart forgets them); a real receiver stores
  // the records under a UNIQUE id in the same transaction as their effect, and answers
  // 2xx after the commit.
  const seen = new Set<string>();
  const totals = new Map<string, Map<string, Totals>>();
  const receiver: Receiver = {
    totals,
    duplicates: 0,
    async fetch(req) {
      if (req.method !== "POST") return new Response("POST usage batches here\n", { status: 405, headers: { allow: "POST" } });
      const body = new Uint8Array(await req.arrayBuffer());
      const v = verify(secret, req.headers.get("x-llmproxy-timestamp"), req.headers.get("x-llmproxy-signature"), body, now());
      if (!v.ok) {
        log(`refused a batch: ${v.reason}`);
        return new Response(`${v.reason}\n`, { status: 401 });
      }
      const batch = JSON.parse(new TextDecoder().decode(body)) as { object: string; records: UsageRecord[] };
      if (batch.object !== "usage_batch") return new Response("not a usage_batch\n", { status: 400 });
      let fresh = 0;
      for (const r of batch.records) {
        if (seen.has(r.id)) {
          receiver.duplicates++;
          continue;
        }
        seen.add(r.id);
        fresh++;
        const byModel = totals.get(r.key_id ?? "-") ?? new Map<string, Totals>();
        totals.set(r.key_id ?? "-", byModel);
        const t = byModel.get(r.model) ?? { requests: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 };
        byModel.set(r.model, t);
        t.requests++;
        t.prompt_tokens += r.prompt_tokens;
        t.completion_tokens += r.completion_tokens;
        t.cached_tokens += r.cached_tokens;
      }
      log(`batch of ${batch.records.length} records: ${fresh} new, ${batch.records.length - fresh} seen before`);
      for (const [key, byModel] of totals) {
        for (const [model, t] of byModel) {
          log(`  ${key} ${model}: ${t.requests} requests, ${t.prompt_tokens} prompt (${t.cached_tokens} cached) + ${t.completion_tokens} completion tokens`);
        }
      }
      return new Response(null, { status: 204 });
    },
  };
  return receiver;
}

if (import.meta.main) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error("set WEBHOOK_SECRET to the webhook's secret in the llmproxy config");
    process.exit(1);
  }
  const receiver = createReceiver(secret);
  const server = Bun.serve({ port: Number(process.env.PORT ?? 9000), fetch: receiver.fetch });
  console.log(`receiving usage batches on ${server.url}`);
}
