// Usage records on the real daemon (issue 7, points 1 and 4): every proxied request
// leaves exactly one row in usage_records, whatever its outcome (answered, streamed,
// refused by the backend, timed out, cut mid-stream, abandoned by the client, refused by
// a rate limit or by auth, bad input, unknown model, body too large), and the row says
// what the client saw and what the access log says. Then /metrics, parsed strictly,
// counts the same requests and tokens as the rows.
//
// One run in beforeAll (the daemon, a key, one request per outcome, SIGTERM, the file
// read with bun:sqlite); the tests below are its specification.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { scrapeUntil, type Exposition } from "../helpers/prometheus.ts";
import { readEvents, sseData } from "../helpers/sse.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { byRequestId, readUsageRecords, type StoredUsage } from "../helpers/usage-db.ts";
import { adminCreateKey, type CreatedKey } from "../helpers/admin.ts";

const ADMIN = "admin-token-for-metering";
const MAX_BODY = 2048;
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

type Tokens = { prompt: number; completion: number; cached: number };

/** What one request must leave in usage_records. */
interface Outcome {
  title: string;
  requestId: string;
  status: number;
  errorCode: string | null;
  /** "key" = the test's key id, "narrow" = the key allowed only llama; null = none. */
  key: "key" | "narrow" | null;
  endpoint: string;
  model: string;
  route: string;
  backend: string;
  stream: boolean;
  source: "backend" | "estimate" | "none";
  /** The tokens the client saw (usage field or usage chunk); null when it saw none. */
  clientTokens: Tokens | null;
  /** The HTTP status the client got (the record says 499 for a client that left). */
  clientStatus: number | null;
  /** The error code in the answer's body (or in the stream's error event). */
  clientErrorCode?: string;
}

/** The outcomes runOutcomes() goes through, one test each. */
const TITLES = [
  "a plain answer",
  "a stream with the usage chunk the client asked for",
  "a stream without the usage chunk (the gateway asked for it and hid it)",
  "an answer from a backend that reports no usage (estimated)",
  "an embeddings answer",
  "a backend error passed through (500, no retry)",
  "a first-byte timeout",
  "a stream the backend dropped midway (tokens estimated)",
  "a stream the client abandoned (499, tokens estimated)",
  "a request the client abandoned before the backend answered (499, nothing to count)",
  "the one request a minute of a limited model",
  "a refusal by the model's rate limit (rpm: 1)",
  "an auth refusal (no key)",
  "an auth refusal (unknown key)",
  "a key refused a model it may not use (403)",
  "bad input (invalid JSON)",
  "an unknown model",
  "a body over server.max_body",
];

let mock: MockServer;
let dir: string;
let proxy: ProxyProcess;
let keyId: string;
let keySecret: string;
let narrowKeyId: string;
let narrowSecret: string;
const outcomes: Outcome[] = [];
const access = new Map<string, LogLine>();
let metricsAfterRun: Exposition;
let rows: StoredUsage[];
let records: Map<string, StoredUsage>;
let exitCode: number;
let runStart: number;
let runEnd: number;

function config(): string {
  return `auth: keys
database: usage.db
admin_token: ${ADMIN}
server: { max_body: ${MAX_BODY} }
metering: { flush_interval: 100ms }
metrics: { key_labels: true }
x-no-circuit: &no-circuit { failures: 1000 }
backends:
  # the faults below must not eject a backend: every request here must reach its target
  - { name: vllm, provider: openai, url: ${mock.url}, circuit: *no-circuit }
  - { name: slow, provider: openai, url: ${mock.url}, circuit: *no-circuit, timeouts: { first_byte: 300ms } }
models:
  - { name: llama, targets: [{ backend: vllm, model: llama-3-8b }] }
  - { name: slow-start, targets: [{ backend: slow }] }
  - { name: limited, targets: [{ backend: vllm }] }
  - { name: embed, targets: [{ backend: vllm }] }
limits:
  models:
    limited: { rpm: 1 }
retries: { attempts: 0 }
`;
}

const HI = [{ role: "user", content: "how many tokens is this?" }];

/** Per request id: the body bytes the client sent, and those of the answer it read. */
interface Wire {
  sent: number;
  received: number;
  /** The client read the answer's body to its end. */
  complete: boolean;
}
const wire = new Map<string, Wire>();

/** POST, counting the bytes of the answer's body as the client reads them. */
async function post(path: string, body: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  const w: Wire = { sent: Buffer.byteLength(body), received: 0, complete: false };
  wire.set(headers["x-request-id"]!, w);
  const res = await fetch(`${proxy.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body, signal });
  if (!res.body) {
    w.complete = true;
    return res;
  }
  const counted = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        w.received += chunk.byteLength;
        c.enqueue(chunk);
      },
      flush() {
        w.complete = true;
      },
    }),
  );
  return new Response(counted, { status: res.status, headers: res.headers });
}

function createKey(body: Record<string, unknown>): Promise<CreatedKey> {
  return adminCreateKey(proxy.url, ADMIN, body);
}

const auth = (): Record<string, string> => ({ authorization: `Bearer ${keySecret}` });

function usageTokens(u: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null }): Tokens {
  return { prompt: u.prompt_tokens ?? 0, completion: u.completion_tokens ?? 0, cached: u.prompt_tokens_details?.cached_tokens ?? 0 };
}

async function errorCodeOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** Each outcome: send the request, read the answer as a client would, note what must be recorded. */
async function runOutcomes(): Promise<void> {
  const base = { key: "key" as const, endpoint: "/v1/chat/completions", stream: false, clientErrorCode: undefined };
  const chatBody = (model: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model, messages: HI, ...extra });

  {
    const id = "meter-ok-plain";
    const res = await post("/v1/chat/completions", chatBody("llama"), { ...auth(), "x-request-id": id, traceparent: TRACEPARENT });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: Parameters<typeof usageTokens>[0] };
    outcomes.push({ ...base, title: "a plain answer", requestId: id, status: 200, errorCode: null, model: "llama", route: "llama", backend: "vllm", source: "backend", clientTokens: usageTokens(body.usage), clientStatus: 200 });
  }
  {
    const id = "meter-ok-stream-usage";
    const res = await post("/v1/chat/completions", chatBody("llama", { stream: true, stream_options: { include_usage: true } }), { ...auth(), "x-request-id": id });
    expect(res.status).toBe(200);
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    const last = JSON.parse(events.at(-2)!) as { usage: Parameters<typeof usageTokens>[0] };
    outcomes.push({ ...base, title: "a stream with the usage chunk the client asked for", requestId: id, status: 200, errorCode: null, model: "llama", route: "llama", backend: "vllm", stream: true, source: "backend", clientTokens: usageTokens(last.usage), clientStatus: 200 });
  }
  {
    // the gateway asks the backend for usage and hides the chunk the client did not ask for
    const id = "meter-ok-stream-hidden-usage";
    const res = await post("/v1/chat/completions", chatBody("llama", { stream: true }), { ...auth(), "x-request-id": id });
    expect(res.status).toBe(200);
    const events = sseData(await res.text());
    expect(events.some((e) => e !== "[DONE]" && "usage" in (JSON.parse(e) as object))).toBe(false);
    outcomes.push({ ...base, title: "a stream without the usage chunk (the gateway asked for it and hid it)", requestId: id, status: 200, errorCode: null, model: "llama", route: "llama", backend: "vllm", stream: true, source: "backend", clientTokens: null, clientStatus: 200 });
  }
  {
    const id = "meter-ok-no-backend-usage";
    const res = await post("/v1/chat/completions", chatBody("llama"), { ...auth(), "x-request-id": id, "x-mock-usage": "0" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage?: unknown }).usage).toBeUndefined();
    outcomes.push({ ...base, title: "an answer from a backend that reports no usage (estimated)", requestId: id, status: 200, errorCode: null, model: "llama", route: "llama", backend: "vllm", source: "estimate", clientTokens: null, clientStatus: 200 });
  }
  {
    const id = "meter-ok-embeddings";
    const res = await post("/v1/embeddings", JSON.stringify({ model: "embed", input: "one two three" }), { ...auth(), "x-request-id": id });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: Parameters<typeof usageTokens>[0] };
    outcomes.push({ ...base, title: "an embeddings answer", requestId: id, status: 200, errorCode: null, endpoint: "/v1/embeddings", model: "embed", route: "embed", backend: "vllm", source: "backend", clientTokens: usageTokens(body.usage), clientStatus: 200 });
  }
  {
    const id = "meter-backend-500";
    const res = await post("/v1/chat/completions", chatBody("llama"), { ...auth(), "x-request-id": id, "x-mock-status": "500" });
    expect(res.status).toBe(500);
    await res.arrayBuffer();
    outcomes.push({ ...base, title: "a backend error passed through (500, no retry)", requestId: id, status: 500, errorCode: "upstream_http_500", model: "llama", route: "llama", backend: "vllm", source: "none", clientTokens: null, clientStatus: 500 });
  }
  {
    const id = "meter-first-byte-timeout";
    const res = await post("/v1/chat/completions", chatBody("slow-start"), { ...auth(), "x-request-id": id, "x-mock-hang": "headers" });
    expect(res.status).toBe(504);
    outcomes.push({ ...base, title: "a first-byte timeout", requestId: id, status: 504, errorCode: "upstream_first_byte_timeout", model: "slow-start", route: "slow-start", backend: "slow", source: "none", clientTokens: null, clientStatus: 504, clientErrorCode: await errorCodeOf(res) });
  }
  {
    // three tokens, then the backend resets the connection: the client gets an error event
    const id = "meter-mid-stream-drop";
    const res = await post("/v1/chat/completions", chatBody("llama", { stream: true }), { ...auth(), "x-request-id": id, "x-mock-tokens": "10", "x-mock-drop-after": "3" });
    expect(res.status).toBe(200);
    const events = sseData(await res.text());
    const error = JSON.parse(events.at(-1)!) as { error: { code: string } };
    outcomes.push({ ...base, title: "a stream the backend dropped midway (tokens estimated)", requestId: id, status: 200, errorCode: "upstream_error", model: "llama", route: "llama", backend: "vllm", stream: true, source: "estimate", clientTokens: null, clientStatus: 200, clientErrorCode: error.error.code });
  }
  {
    const id = "meter-client-gone";
    const ac = new AbortController();
    const res = await post("/v1/chat/completions", chatBody("llama", { stream: true }), { ...auth(), "x-request-id": id, "x-mock-tokens": "2000", "x-mock-delay-ms": "10" }, ac.signal);
    expect(res.status).toBe(200);
    const { reader } = await readEvents(res, 3);
    const line = proxy.accessLine(id);
    ac.abort();
    await reader.cancel().catch(() => {});
    await line;
    outcomes.push({ ...base, title: "a stream the client abandoned (499, tokens estimated)", requestId: id, status: 499, errorCode: "client_closed_request", model: "llama", route: "llama", backend: "vllm", stream: true, source: "estimate", clientTokens: null, clientStatus: null });
  }
  {
    // the client gives up while the backend has not answered yet: nothing was sent to it
    const id = "meter-client-gone-before-answer";
    const ac = new AbortController();
    const arrived = mock.backend.nextStart((s) => s.headers.get("x-request-id") === id);
    const res = post("/v1/chat/completions", chatBody("llama"), { ...auth(), "x-request-id": id, "x-mock-hang": "headers" }, ac.signal).catch((e: unknown) => e);
    await arrived;
    const line = proxy.accessLine(id);
    ac.abort();
    expect(await res).toBeInstanceOf(Error);
    await line;
    outcomes.push({ ...base, title: "a request the client abandoned before the backend answered (499, nothing to count)", requestId: id, status: 499, errorCode: "client_closed_request", model: "llama", route: "llama", backend: "vllm", source: "none", clientTokens: null, clientStatus: null });
  }
  {
    const first = "meter-rate-limit-first";
    const res1 = await post("/v1/chat/completions", chatBody("limited"), { ...auth(), "x-request-id": first });
    expect(res1.status).toBe(200);
    const body = (await res1.json()) as { usage: Parameters<typeof usageTokens>[0] };
    outcomes.push({ ...base, title: "the one request a minute of a limited model", requestId: first, status: 200, errorCode: null, model: "limited", route: "limited", backend: "vllm", source: "backend", clientTokens: usageTokens(body.usage), clientStatus: 200 });
    const second = "meter-rate-limit-second";
    const res2 = await post("/v1/chat/completions", chatBody("limited"), { ...auth(), "x-request-id": second });
    expect(res2.status).toBe(429);
    outcomes.push({ ...base, title: "a refusal by the model's rate limit (rpm: 1)", requestId: second, status: 429, errorCode: "rate_limit_exceeded", model: "limited", route: "limited", backend: "", source: "none", clientTokens: null, clientStatus: 429, clientErrorCode: await errorCodeOf(res2) });
  }
  {
    const id = "meter-no-key";
    const res = await post("/v1/chat/completions", chatBody("llama"), { "x-request-id": id });
    expect(res.status).toBe(401);
    outcomes.push({ ...base, title: "an auth refusal (no key)", requestId: id, status: 401, errorCode: "missing_api_key", key: null, model: "", route: "", backend: "", source: "none", clientTokens: null, clientStatus: 401, clientErrorCode: await errorCodeOf(res) });
  }
  {
    const id = "meter-bad-key";
    const res = await post("/v1/chat/completions", chatBody("llama"), { "x-request-id": id, authorization: "Bearer sk-llmp-notarealkeynotarealkeynotarealkey" });
    expect(res.status).toBe(401);
    outcomes.push({ ...base, title: "an auth refusal (unknown key)", requestId: id, status: 401, errorCode: "invalid_api_key", key: null, model: "", route: "", backend: "", source: "none", clientTokens: null, clientStatus: 401, clientErrorCode: await errorCodeOf(res) });
  }
  {
    // the key is checked before the body is read: a bad body is on its key's record
    const id = "meter-invalid-json";
    const res = await post("/v1/chat/completions", "{not json", { ...auth(), "x-request-id": id });
    expect(res.status).toBe(400);
    outcomes.push({ ...base, title: "bad input (invalid JSON)", requestId: id, status: 400, errorCode: "invalid_json", key: "key", model: "", route: "", backend: "", source: "none", clientTokens: null, clientStatus: 400, clientErrorCode: await errorCodeOf(res) });
  }
  {
    const id = "meter-model-not-allowed";
    const res = await post("/v1/chat/completions", chatBody("embed"), { authorization: `Bearer ${narrowSecret}`, "x-request-id": id });
    expect(res.status).toBe(403);
    outcomes.push({ ...base, title: "a key refused a model it may not use (403)", requestId: id, status: 403, errorCode: "model_not_allowed", key: "narrow", model: "embed", route: "embed", backend: "", source: "none", clientTokens: null, clientStatus: 403, clientErrorCode: await errorCodeOf(res) });
  }
  {
    const id = "meter-unknown-model";
    const res = await post("/v1/chat/completions", chatBody("gpt-9"), { ...auth(), "x-request-id": id });
    expect(res.status).toBe(404);
    outcomes.push({ ...base, title: "an unknown model", requestId: id, status: 404, errorCode: "model_not_found", model: "gpt-9", route: "", backend: "", source: "none", clientTokens: null, clientStatus: 404, clientErrorCode: await errorCodeOf(res) });
  }
  {
    const id = "meter-too-large";
    const body = JSON.stringify({ model: "llama", messages: [{ role: "user", content: "x".repeat(MAX_BODY) }] });
    const res = await post("/v1/chat/completions", body, { ...auth(), "x-request-id": id });
    expect(res.status).toBe(413);
    outcomes.push({ ...base, title: "a body over server.max_body", requestId: id, status: 413, errorCode: "request_too_large", key: "key", model: "", route: "", backend: "", source: "none", clientTokens: null, clientStatus: 413, clientErrorCode: await errorCodeOf(res) });
  }
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: 7, delayMs: 0 });
  dir = tempDir("metering-records");
  proxy = await startProxy({ config: config(), dir });
  ({ id: keyId, secret: keySecret } = await createKey({ name: "metered" }));
  ({ id: narrowKeyId, secret: narrowSecret } = await createKey({ name: "llama-only", models: ["llama"] }));

  runStart = Date.now();
  await runOutcomes();
  for (const o of outcomes) access.set(o.requestId, await proxy.accessLine(o.requestId));
  runEnd = Date.now();
  // The access lines are out; the rows are written at the next flush (100 ms), which
  // logs nothing: the written counter is the event, read from /metrics.
  metricsAfterRun = await scrapeUntil(proxy.url, (e) => e.sum("llmproxy_usage_records_written_total") >= outcomes.length, `${outcomes.length} records written`);
  exitCode = await proxy.stop("SIGTERM");
  await mock.stop();
  rows = readUsageRecords(join(dir, "usage.db"));
  records = byRequestId(rows);
}, 60_000);

// when the run failed halfway: no daemon or backend left behind (stop() is a no-op after an exit)
afterAll(async () => {
  await proxy?.stop();
  await mock?.stop();
});

describe("one usage record per proxied request, whatever the outcome", () => {
  test("the daemon stopped cleanly and the database holds exactly one record per request, by x-request-id", () => {
    expect(exitCode).toBe(0);
    // the admin calls and /metrics scrapes are not proxied requests: no record for them
    expect(outcomes.map((o) => o.title).sort()).toEqual([...TITLES].sort());
    expect(rows.length).toBe(outcomes.length);
    expect([...records.keys()].sort()).toEqual(outcomes.map((o) => o.requestId).sort());
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  test("record ids are UUIDv7 and arrival times fall within the run", () => {
    for (const r of rows) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.ts).toBeGreaterThanOrEqual(runStart);
      expect(r.ts).toBeLessThanOrEqual(runEnd);
    }
  });

  // one test per outcome, so a failure names the outcome
  for (const title of TITLES) {
    test(`${title}: status, error code, key, route, backend, stream flag and usage source`, () => {
      const o = outcomes.find((x) => x.title === title);
      expect(o).toBeDefined();
      const r = records.get(o!.requestId);
      expect(r).toBeDefined();
      expect(r).toMatchObject({
        request_id: o!.requestId,
        status: o!.status,
        error_code: o!.errorCode,
        key_id: o!.key === "key" ? keyId : o!.key === "narrow" ? narrowKeyId : null,
        endpoint: o!.endpoint,
        model: o!.model,
        route: o!.route,
        backend: o!.backend,
        stream: o!.stream ? 1 : 0,
        usage_source: o!.source,
      });
      // the code the client read is the code recorded
      if (o!.clientErrorCode !== undefined) expect(r!.error_code).toBe(o!.clientErrorCode);
      if (o!.clientTokens) {
        expect({ prompt: r!.prompt_tokens, completion: r!.completion_tokens, cached: r!.cached_tokens }).toEqual(o!.clientTokens);
      }
      if (o!.source === "none") expect([r!.prompt_tokens, r!.completion_tokens, r!.cached_tokens]).toEqual([0, 0, 0]);
      if (o!.source === "estimate") {
        expect(r!.prompt_tokens).toBeGreaterThan(0);
        expect(r!.completion_tokens).toBeGreaterThan(0);
      }
    });
  }

  test("the upstream model is the target's model name, and the client's traceparent is kept", () => {
    expect(records.get("meter-ok-plain")).toMatchObject({ upstream_model: "llama-3-8b", traceparent: TRACEPARENT });
    expect(records.get("meter-ok-stream-usage")!.traceparent).toBeNull();
  });

  test("a stream cut by the backend records the tokens that reached the client, fewer than asked for", () => {
    const r = records.get("meter-mid-stream-drop")!;
    expect(r.completion_tokens).toBeLessThan(10);
    expect(r.ttft_ms).not.toBeNull();
  });

  test("every record says what the access-log line of the same request says", () => {
    for (const o of outcomes) {
      const r = records.get(o.requestId)!;
      const a = access.get(o.requestId)!;
      expect({
        request_id: r.request_id,
        key_id: r.key_id,
        endpoint: r.endpoint,
        model: r.model,
        route: r.route,
        backend: r.backend,
        upstream_model: r.upstream_model,
        status: r.status,
        error_code: r.error_code,
        stream: r.stream === 1,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cached_tokens: r.cached_tokens,
        usage_source: r.usage_source,
        ttft_ms: r.ttft_ms,
        duration_ms: r.latency_ms,
        retries: r.retries,
        bytes_in: r.bytes_in,
        bytes_out: r.bytes_out,
        client_ip: r.client_ip,
      }).toEqual({
        request_id: a.request_id,
        key_id: a.key_id,
        endpoint: a.endpoint,
        model: a.model,
        route: a.route,
        backend: a.backend,
        upstream_model: a.upstream_model,
        status: a.status,
        error_code: a.error_code,
        stream: a.stream,
        prompt_tokens: a.prompt_tokens,
        completion_tokens: a.completion_tokens,
        cached_tokens: a.cached_tokens,
        usage_source: a.usage_source,
        ttft_ms: a.ttft_ms,
        duration_ms: a.duration_ms,
        retries: a.retries,
        bytes_in: a.bytes_in,
        bytes_out: a.bytes_out,
        client_ip: a.client_ip,
      } as never);
      expect(r.traceparent).toBe((a.traceparent as string | undefined) ?? null);
    }
  });

  test("bytes_in is the request body the gateway read; bytes_out of an answer is the body the client read", () => {
    const wrong: string[] = [];
    for (const o of outcomes) {
      const w = wire.get(o.requestId)!;
      const r = records.get(o.requestId)!;
      // a body refused by its Content-Length, or with its key, is never read: nothing was received
      const sent = o.errorCode === "request_too_large" || o.status === 401 ? 0 : w.sent;
      if (r.bytes_in !== sent) wrong.push(`${o.requestId}: bytes_in ${r.bytes_in}, the client sent ${sent}`);
      // whole answers from the backend (streams cut midway included); a client that left
      // has read less than was sent, and error answers are the next test
      if (o.clientStatus === 200 && w.complete && r.bytes_out !== w.received) wrong.push(`${o.requestId}: bytes_out ${r.bytes_out}, the client read ${w.received}`);
    }
    expect(wrong).toEqual([]);
  });

  test("bytes_out of an error answer is the error body the client read (the README: answer body bytes sent)", () => {
    const wrong: string[] = [];
    for (const o of outcomes) {
      const w = wire.get(o.requestId)!;
      const r = records.get(o.requestId)!;
      if (o.clientStatus !== null && o.clientStatus !== 200 && w.complete && r.bytes_out !== w.received) {
        wrong.push(`${o.requestId} (${r.status} ${r.error_code}): bytes_out ${r.bytes_out}, the client read ${w.received}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("the status the client got is the status recorded (499 when it left first)", () => {
    for (const o of outcomes) expect([o.requestId, records.get(o.requestId)!.status]).toEqual([o.requestId, o.clientStatus ?? 499]);
  });
});

describe("/metrics parses as Prometheus text and counts what the records hold", () => {
  const statusClass = (s: number) => (s === 499 ? "499" : `${Math.floor(s / 100)}xx`);
  const sum = (f: (r: StoredUsage) => number) => rows.reduce((a, r) => a + f(r), 0);

  test("the exposition parsed strictly and has the metering families with their types", () => {
    const types = Object.fromEntries([...metricsAfterRun.families.values()].map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      llmproxy_requests_total: "counter",
      llmproxy_tokens_total: "counter",
      llmproxy_request_duration_seconds: "histogram",
      llmproxy_time_to_first_token_seconds: "histogram",
      llmproxy_usage_estimated_total: "counter",
      llmproxy_usage_records_written_total: "counter",
      llmproxy_usage_records_dropped_total: "counter",
      llmproxy_webhook_backlog_records: "gauge",
    });
    for (const f of metricsAfterRun.families.values()) expect([f.name, typeof f.help]).toEqual([f.name, "string"]);
  });

  test("requests: the sum equals the number of records, and so does each (model, backend, status class, stream) series", () => {
    expect(metricsAfterRun.sum("llmproxy_requests_total")).toBe(rows.length);
    const fromRows = new Map<string, number>();
    for (const r of rows) {
      const k = JSON.stringify([r.route || "none", r.backend || "none", statusClass(r.status), r.stream ? "true" : "false"]);
      fromRows.set(k, (fromRows.get(k) ?? 0) + 1);
    }
    const fromMetrics = new Map<string, number>();
    for (const s of metricsAfterRun.samples("llmproxy_requests_total")) {
      if (s.value === 0) continue;
      fromMetrics.set(JSON.stringify([s.labels.model, s.labels.backend, s.labels.status_class, s.labels.stream]), s.value);
    }
    expect(Object.fromEntries(fromMetrics)).toEqual(Object.fromEntries(fromRows));
  });

  test("tokens: prompt, completion and cached sums equal the records' sums", () => {
    expect(metricsAfterRun.sum("llmproxy_tokens_total", { type: "prompt" })).toBe(sum((r) => r.prompt_tokens));
    expect(metricsAfterRun.sum("llmproxy_tokens_total", { type: "completion" })).toBe(sum((r) => r.completion_tokens));
    expect(metricsAfterRun.sum("llmproxy_tokens_total", { type: "cached" })).toBe(sum((r) => r.cached_tokens));
    expect(sum((r) => r.completion_tokens)).toBeGreaterThan(0);
  });

  test("per key (metrics.key_labels): requests by status class and tokens by type equal the records of that key", () => {
    const want: Record<string, number> = {};
    const add = (k: string, n: number) => n && (want[k] = (want[k] ?? 0) + n);
    for (const r of rows) {
      if (r.key_id === null) continue;
      add(`requests ${r.key_id} ${statusClass(r.status)}`, 1);
      add(`tokens ${r.key_id} prompt`, r.prompt_tokens);
      add(`tokens ${r.key_id} completion`, r.completion_tokens);
      add(`tokens ${r.key_id} cached`, r.cached_tokens);
    }
    const have: Record<string, number> = {};
    for (const s of metricsAfterRun.samples("llmproxy_key_requests_total")) if (s.value) have[`requests ${s.labels.key} ${s.labels.status_class}`] = s.value;
    for (const s of metricsAfterRun.samples("llmproxy_key_tokens_total")) if (s.value) have[`tokens ${s.labels.key} ${s.labels.type}`] = s.value;
    expect(have).toEqual(want);
    expect(Object.keys(want).some((k) => k.includes(narrowKeyId))).toBe(true);
  });

  test("estimated usage, durations, first tokens and records written agree with the records", () => {
    expect(metricsAfterRun.sum("llmproxy_usage_estimated_total")).toBe(rows.filter((r) => r.usage_source === "estimate").length);
    expect(metricsAfterRun.sum("llmproxy_request_duration_seconds_count")).toBe(rows.length);
    expect(metricsAfterRun.sum("llmproxy_time_to_first_token_seconds_count")).toBe(rows.filter((r) => r.ttft_ms !== null).length);
    // streams and whole answers apart: each series holds only its own kind
    for (const stream of [true, false]) {
      const n = rows.filter((r) => r.ttft_ms !== null && r.stream === (stream ? 1 : 0)).length;
      expect(metricsAfterRun.sum("llmproxy_time_to_first_token_seconds_count", { stream: String(stream) })).toBe(n);
      expect(n).toBeGreaterThan(0);
    }
    expect(metricsAfterRun.sum("llmproxy_usage_records_written_total")).toBe(rows.length);
    expect(metricsAfterRun.sum("llmproxy_usage_records_dropped_total")).toBe(0);
    expect(metricsAfterRun.sum("llmproxy_rate_limited_total", { scope: "model", kind: "requests" })).toBe(rows.filter((r) => r.error_code === "rate_limit_exceeded").length);
    // no webhook configured: nothing is owed to one
    expect(metricsAfterRun.sum("llmproxy_webhook_backlog_records")).toBe(0);
  });
});
