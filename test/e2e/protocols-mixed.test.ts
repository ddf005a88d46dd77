// Issue 9, point 6: routing, keys, limits and metering work the same whatever the
// protocol, on the real daemon with virtual keys and a usage database:
// - retries and fallbacks cross providers: an OpenAI request whose Anthropic target is
//   down is answered by an OpenAI-compatible one (and an Anthropic request the other way);
// - a route mixing providers serves each endpoint only through the targets that can;
// - a key's model allowlist and tokens-per-minute limit apply alike on /v1/messages and
//   /v1/chat/completions, each refusal in its protocol's shape;
// - every request leaves exactly one usage record with the right tokens, translated
//   requests and streams included, and /metrics counts the same tokens (cache_write too).
// Every request carries an x-request-id the test chose, so the records can be matched.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { scrapeUntil, type Exposition } from "../helpers/prometheus.ts";
import { holdRefusingPorts, type RefusingPorts } from "../helpers/refusing-ports.ts";
import { startSwitchableBackend, type SwitchableBackend } from "../helpers/switchable-backend.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { byRequestId, readUsageRecords, type StoredUsage } from "../helpers/usage-db.ts";
import { failure } from "../helpers/client-fixtures.ts";
import { adminCreateKey, type CreatedKey } from "../helpers/admin.ts";

type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;
type AnthropicApiError = InstanceType<typeof Anthropic.APIError>;

const TOKENS = 6;
const ADMIN = "admin-token-for-mixed-protocols";

let mock: MockServer;
let held: RefusingPorts;
/** The fake LLM refusing every request with 503: Anthropic's /v1/messages answers it as overloaded_error. */
let overloaded: SwitchableBackend;
/** The same with Anthropic's own overload status, 529. */
let overloaded529: SwitchableBackend;
// made at load time: tempDir registers the afterAll that removes it, which a hook cannot do
const dir = tempDir("protocols-mixed");
let proxy: ProxyProcess;
let mainKeyId: string;
let openai: OpenAI;
let anthropic: Anthropic;

/** Every request id sent in this file, in order: each must leave exactly one record. */
const sent: string[] = [];
/** What the record of a request must hold, checked against the database at the end. */
const expected = new Map<string, Partial<StoredUsage>>();
let seq = 0;

/** A fresh request id, remembered; `expect` what its record must say. */
function rid(label: string, record?: Partial<StoredUsage>): { "x-request-id": string } {
  const id = `mixed-${++seq}-${label}`;
  sent.push(id);
  if (record) expected.set(id, record);
  return { "x-request-id": id };
}

const HELLO = [{ role: "user" as const, content: "Hello there" }];

/** The text of a chat stream, read to its end (rejects with the SDK's error when the stream carries one). */
async function chatText(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  return text;
}

function createKey(body: Record<string, unknown>): Promise<CreatedKey> {
  return adminCreateKey(proxy.url, ADMIN, body);
}

function clients(secret: string): { openai: OpenAI; anthropic: Anthropic } {
  return {
    openai: new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: secret, maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: proxy.url, apiKey: secret, maxRetries: 0 }),
  };
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  held = await holdRefusingPorts(1);
  overloaded = await startSwitchableBackend({ tokens: TOKENS, delayMs: 0, behaviour: { kind: "status", status: 503 } });
  overloaded529 = await startSwitchableBackend({ tokens: TOKENS, delayMs: 0, behaviour: { kind: "status", status: 529 } });
  proxy = await startProxy({
    dir,
    config: `
auth: keys
database: usage.db
admin_token: ${ADMIN}
server: { backend_header: true }
metering: { flush_interval: 100ms }
x-quiet: &quiet { interval: 0s }
# a dead backend stays in: every request tries it first, so each one retries exactly once
x-stays: &stays { failures: 1000 }
backends:
  - { name: claude-dead, provider: anthropic, url: ${held.urls[0]}, health: *quiet, circuit: *stays }
  - { name: vllm-dead, provider: openai, url: ${held.urls[0]}, health: *quiet, circuit: *stays }
  - { name: claude-overloaded, provider: anthropic, url: ${overloaded.url}, health: *quiet, circuit: *stays }
  - { name: claude-529, provider: anthropic, url: ${overloaded529.url}, health: *quiet, circuit: *stays }
  - { name: claude, provider: anthropic, url: ${mock.url}, health: *quiet }
  - { name: vllm, provider: openai, url: ${mock.url}, health: *quiet }
  - { name: gemini, provider: gemini, url: ${mock.url}, health: *quiet }
models:
  - { name: claude-then-llama, strategy: priority, targets: [{ backend: claude-dead, model: claude-sonnet-4-5 }, { backend: vllm, model: llama-3-8b }] }
  - { name: overloaded-then-llama, strategy: priority, targets: [{ backend: claude-overloaded }, { backend: vllm, model: llama-3-8b }] }
  - { name: overloaded529-then-llama, strategy: priority, targets: [{ backend: claude-529 }, { backend: vllm, model: llama-3-8b }] }
  - { name: claude-with-fallback, targets: [{ backend: claude-dead, model: claude-sonnet-4-5 }], fallback: [llama] }
  - { name: llama-then-claude, strategy: priority, targets: [{ backend: vllm-dead }, { backend: claude, model: claude-sonnet-4-5 }] }
  - { name: llama, targets: [{ backend: vllm, model: llama-3-8b }] }
  - { name: mixed, strategy: round_robin, targets: [{ backend: claude }, { backend: vllm }, { backend: gemini }] }
  - { name: claude-sonnet, targets: [{ backend: claude, model: claude-sonnet-4-5 }] }
  - { name: qwen, targets: [{ backend: vllm, model: Qwen/Qwen3-8B }] }
  - { name: gemini-flash, targets: [{ backend: gemini, model: gemini-2.5-flash }] }
retries: { attempts: 1, backoff: 1ms }
`,
  });
  const main = await createKey({ name: "main" });
  mainKeyId = main.id;
  ({ openai, anthropic } = clients(main.secret));
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.stop();
  await held?.stop();
  await overloaded?.stop();
  await overloaded529?.stop();
});

describe("retries and fallbacks across providers", () => {
  test("an OpenAI request whose Anthropic target is down is answered by the OpenAI-compatible target: whole and streamed", async () => {
    const whole = rid("fallback-whole", { backend: "vllm", route: "claude-then-llama", upstream_model: "llama-3-8b", retries: 1, status: 200, usage_source: "backend", completion_tokens: TOKENS });
    const { data: res, response } = await openai.chat.completions.create({ model: "claude-then-llama", messages: HELLO }, { headers: whole }).withResponse();
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(response.headers.get("x-llmproxy-backend")).toBe("vllm");

    const streamed = rid("fallback-stream", { backend: "vllm", retries: 1, status: 200, stream: 1, usage_source: "backend", completion_tokens: TOKENS });
    const { data: stream, response: sres } = await openai.chat.completions.create({ model: "claude-then-llama", messages: HELLO, stream: true }, { headers: streamed }).withResponse();
    expect(await chatText(stream)).toBe(mockCompletionText(TOKENS));
    expect(sres.headers.get("x-llmproxy-backend")).toBe("vllm");
    expect(await proxy.accessLine(streamed["x-request-id"])).toMatchObject({ backend: "vllm", retries: 1 });
  });

  test("a route whose only target is a down Anthropic backend falls back to a route of an OpenAI-compatible one", async () => {
    const id = rid("fallback-route", { backend: "vllm", route: "claude-with-fallback", upstream_model: "llama-3-8b", retries: 1, status: 200, usage_source: "backend" });
    const { data: res, response } = await openai.chat.completions.create({ model: "claude-with-fallback", messages: HELLO }, { headers: id }).withResponse();
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.model).toBe("llama-3-8b");
    expect(response.headers.get("x-llmproxy-backend")).toBe("vllm");
  });

  test("an OpenAI request whose Anthropic target answers 503 overloaded is answered by the OpenAI-compatible target", async () => {
    const before = overloaded.arrived;
    const id = rid("fallback-503", { backend: "vllm", route: "overloaded-then-llama", retries: 1, status: 200, error_code: null, usage_source: "backend", completion_tokens: TOKENS });
    const { data: res, response } = await openai.chat.completions.create({ model: "overloaded-then-llama", messages: HELLO }, { headers: id }).withResponse();
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(response.headers.get("x-llmproxy-backend")).toBe("vllm");
    // the Anthropic backend was asked first, and refused
    expect(overloaded.arrived).toBe(before + 1);
  });

  test("Anthropic's own overload status, 529, fails over the same way", async () => {
    const before = overloaded529.arrived;
    const id = rid("fallback-529", { backend: "vllm", route: "overloaded529-then-llama", retries: 1, status: 200, error_code: null, usage_source: "backend", completion_tokens: TOKENS });
    const { data: res, response } = await openai.chat.completions.create({ model: "overloaded529-then-llama", messages: HELLO }, { headers: id }).withResponse();
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(response.headers.get("x-llmproxy-backend")).toBe("vllm");
    expect(overloaded529.arrived).toBe(before + 1);
  });

  test("the other way: an Anthropic request whose OpenAI-compatible target is down is passed through to the Anthropic target", async () => {
    const id = rid("fallback-messages", { backend: "claude", route: "llama-then-claude", endpoint: "/v1/messages", retries: 1, status: 200, usage_source: "backend", completion_tokens: TOKENS });
    const { data: msg, response } = await anthropic.messages.create({ model: "llama-then-claude", max_tokens: 100, messages: HELLO }, { headers: id }).withResponse();
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(response.headers.get("x-llmproxy-backend")).toBe("claude");
  });

  test("an Anthropic request whose Anthropic target is down is translated for the OpenAI-compatible target: streamed, with usage", async () => {
    const id = rid("fallback-messages-stream", { backend: "vllm", endpoint: "/v1/messages", retries: 1, status: 200, stream: 1, usage_source: "backend", completion_tokens: TOKENS });
    const final = await anthropic.messages.stream({ model: "claude-then-llama", max_tokens: 100, messages: HELLO }, { headers: id }).finalMessage();
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBe(TOKENS);
  });
});

describe("a route mixing providers", () => {
  test("chat goes round all three providers, /v1/embeddings only to the OpenAI-compatible one", async () => {
    const chats: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { data: res, response } = await openai.chat.completions.create({ model: "mixed", messages: HELLO }, { headers: rid(`mixed-chat-${i}`) }).withResponse();
      expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
      chats.push(response.headers.get("x-llmproxy-backend")!);
    }
    expect(chats.sort()).toEqual(["claude", "gemini", "vllm"]);
    const embeddings: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { data: res, response } = await openai.embeddings
        .create({ model: "mixed", input: "one two three", encoding_format: "float" }, { headers: rid(`mixed-embed-${i}`, { backend: "vllm", endpoint: "/v1/embeddings", retries: 0, status: 200 }) })
        .withResponse();
      expect(res.data[0]!.embedding).toHaveLength(8);
      embeddings.push(response.headers.get("x-llmproxy-backend")!);
    }
    expect(embeddings).toEqual(["vllm", "vllm", "vllm", "vllm"]);
  });

  test("/v1/embeddings on a route of only an Anthropic backend: 400 endpoint_not_supported, saying why", async () => {
    const err = await failure(openai.embeddings.create({ model: "claude-sonnet", input: "x" }, { headers: rid("embed-unsupported", { status: 400, error_code: "endpoint_not_supported" }) }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as OpenAIApiError;
    expect(e.code).toBe("endpoint_not_supported");
    expect(e.message).toContain("provider anthropic");
  });
});

describe("keys and limits, the same on both front doors", () => {
  test("a key's model allowlist: allowed models served on both doors; another model refused with 403 model_not_allowed in each protocol's shape", async () => {
    const narrow = await createKey({ name: "qwen-only", models: ["qwen"] });
    const c = clients(narrow.secret);
    const ok1 = await c.openai.chat.completions.create({ model: "qwen", messages: HELLO }, { headers: rid("allow-openai-ok", { key_id: narrow.id, status: 200 }) });
    expect(ok1.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    const ok2 = await c.anthropic.messages.create({ model: "qwen", max_tokens: 50, messages: HELLO }, { headers: rid("allow-messages-ok", { key_id: narrow.id, status: 200 }) });
    expect(ok2.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);

    const before = mock.backend.stats.requests;
    const o = await failure(c.openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO }, { headers: rid("allow-openai-refused", { key_id: narrow.id, status: 403, error_code: "model_not_allowed" }) }));
    expect(o).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((o as OpenAIApiError).code).toBe("model_not_allowed");
    expect((o as OpenAIApiError).type).toBe("permission_error");
    const a = await failure(c.anthropic.messages.create({ model: "claude-sonnet", max_tokens: 50, messages: HELLO }, { headers: rid("allow-messages-refused", { key_id: narrow.id, status: 403, error_code: "model_not_allowed" }) }));
    expect(a).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((a as AnthropicApiError).errorCode).toBe("model_not_allowed");
    expect((a as AnthropicApiError).type).toBe("permission_error");
    expect(mock.backend.stats.requests).toBe(before);
  });

  test("a key's tokens per minute: what one door spent refuses the next request on either door, each in its own shape", async () => {
    // 40 tokens a minute; one answer of 40 tokens spends them all
    const big = { "x-mock-tokens": "40" };
    const spent = await createKey({ name: "tpm-messages-first", tpm: 40 });
    const c1 = clients(spent.secret);
    await c1.anthropic.messages.create({ model: "qwen", max_tokens: 100, messages: HELLO }, { headers: { ...big, ...rid("tpm1-messages-ok", { key_id: spent.id, status: 200, completion_tokens: 40 }) } });
    const o1 = await failure(c1.openai.chat.completions.create({ model: "qwen", messages: HELLO }, { headers: rid("tpm1-openai-refused", { key_id: spent.id, status: 429, error_code: "rate_limit_exceeded" }) }));
    expect(o1).toBeInstanceOf(OpenAI.RateLimitError);
    expect((o1 as OpenAIApiError).code).toBe("rate_limit_exceeded");
    const a1 = await failure(c1.anthropic.messages.create({ model: "qwen", max_tokens: 10, messages: HELLO }, { headers: rid("tpm1-messages-refused", { key_id: spent.id, status: 429, error_code: "rate_limit_exceeded" }) }));
    expect(a1).toBeInstanceOf(Anthropic.RateLimitError);
    expect((a1 as AnthropicApiError).errorCode).toBe("rate_limit_exceeded");
    expect(Number((a1 as AnthropicApiError).headers!.get("retry-after"))).toBeGreaterThan(0);

    const other = await createKey({ name: "tpm-openai-first", tpm: 40 });
    const c2 = clients(other.secret);
    await c2.openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO }, { headers: { ...big, ...rid("tpm2-openai-ok", { key_id: other.id, status: 200, completion_tokens: 40 }) } });
    const a2 = await failure(c2.anthropic.messages.create({ model: "claude-sonnet", max_tokens: 10, messages: HELLO }, { headers: rid("tpm2-messages-refused", { key_id: other.id, status: 429, error_code: "rate_limit_exceeded" }) }));
    expect(a2).toBeInstanceOf(Anthropic.RateLimitError);
    expect((a2 as AnthropicApiError).errorCode).toBe("rate_limit_exceeded");
    const o2 = await failure(c2.openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO }, { headers: rid("tpm2-openai-refused", { key_id: other.id, status: 429, error_code: "rate_limit_exceeded" }) }));
    expect(o2).toBeInstanceOf(OpenAI.RateLimitError);
  });
});

describe("one usage record per request, translated or not, and /metrics agrees", () => {
  const cache = { "x-mock-cache-read": "10", "x-mock-cache-write": "6" };

  test("OpenAI client, Anthropic backend, whole and streamed, with cache reads and writes", async () => {
    {
      const id = rid("meter-oa-whole");
      const seen = mock.backend.nextEnd();
      const res = await openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO }, { headers: { ...cache, ...id } });
      const end = await seen;
      expect(res.usage!.prompt_tokens).toBe(end.promptTokens + 16);
      expected.set(id["x-request-id"], { key_id: mainKeyId, endpoint: "/v1/chat/completions", backend: "claude", stream: 0, prompt_tokens: end.promptTokens + 16, completion_tokens: TOKENS, cached_tokens: 10, cache_write_tokens: 6, usage_source: "backend" });
    }
    {
      const id = rid("meter-oa-stream");
      const seen = mock.backend.nextEnd();
      const stream = await openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO, stream: true }, { headers: { ...cache, ...id } });
      expect(await chatText(stream)).toBe(mockCompletionText(TOKENS));
      const end = await seen;
      expected.set(id["x-request-id"], { endpoint: "/v1/chat/completions", backend: "claude", stream: 1, prompt_tokens: end.promptTokens + 16, completion_tokens: TOKENS, cached_tokens: 10, cache_write_tokens: 6, usage_source: "backend" });
    }
  });

  test("Anthropic client, OpenAI-compatible backend, whole and streamed, with cache reads", async () => {
    {
      const id = rid("meter-ao-whole");
      const seen = mock.backend.nextEnd();
      await anthropic.messages.create({ model: "qwen", max_tokens: 100, messages: HELLO }, { headers: { "x-mock-cache-read": "5", ...id } });
      const end = await seen;
      expected.set(id["x-request-id"], { endpoint: "/v1/messages", backend: "vllm", stream: 0, prompt_tokens: end.promptTokens + 5, completion_tokens: TOKENS, cached_tokens: 5, cache_write_tokens: 0, usage_source: "backend" });
    }
    {
      const id = rid("meter-ao-stream");
      const seen = mock.backend.nextEnd();
      const final = await anthropic.messages.stream({ model: "qwen", max_tokens: 100, messages: HELLO }, { headers: { "x-mock-cache-read": "5", ...id } }).finalMessage();
      expect(final.usage.output_tokens).toBe(TOKENS);
      const end = await seen;
      expected.set(id["x-request-id"], { endpoint: "/v1/messages", backend: "vllm", stream: 1, prompt_tokens: end.promptTokens + 5, completion_tokens: TOKENS, cached_tokens: 5, usage_source: "backend" });
    }
  });

  test("Anthropic client, Anthropic backend (passthrough), streamed, with cache reads and writes", async () => {
    const id = rid("meter-aa-stream");
    const seen = mock.backend.nextEnd();
    await anthropic.messages.stream({ model: "claude-sonnet", max_tokens: 100, messages: HELLO }, { headers: { ...cache, ...id } }).finalMessage();
    const end = await seen;
    expected.set(id["x-request-id"], { endpoint: "/v1/messages", backend: "claude", stream: 1, prompt_tokens: end.promptTokens + 16, completion_tokens: TOKENS, cached_tokens: 10, cache_write_tokens: 6, usage_source: "backend" });
  });

  test("OpenAI client, Gemini backend, streamed, with cached and thinking tokens", async () => {
    const id = rid("meter-og-stream");
    const seen = mock.backend.nextEnd();
    const stream = await openai.chat.completions.create({ model: "gemini-flash", messages: HELLO, stream: true }, { headers: { "x-mock-thinking": "3", "x-mock-cache-read": "4", ...id } });
    expect(await chatText(stream)).toBe(mockCompletionText(TOKENS));
    const end = await seen;
    expected.set(id["x-request-id"], { endpoint: "/v1/chat/completions", backend: "gemini", stream: 1, prompt_tokens: end.promptTokens + 4, completion_tokens: TOKENS + 3, cached_tokens: 4, cache_write_tokens: 0, usage_source: "backend" });
  });

  test("a translated stream the backend broke off is counted by the gateway (usage_source estimate)", async () => {
    const id = rid("meter-oa-broken", { backend: "claude", stream: 1, status: 200, usage_source: "estimate" });
    const stream = await openai.chat.completions.create({ model: "claude-sonnet", messages: HELLO, stream: true }, { headers: { "x-mock-error-after": "3", ...id } });
    expect(await failure(chatText(stream))).toBeInstanceOf(OpenAI.APIError);
  });

  let rows: StoredUsage[];
  let records: Map<string, StoredUsage>;
  let metrics: Exposition;

  test("the database holds exactly one record for every request of this file, by x-request-id", async () => {
    // the access lines are out; the rows follow at the next flush (100 ms): the written counter is the event
    for (const id of sent) await proxy.accessLine(id);
    metrics = await scrapeUntil(proxy.url, (e) => e.sum("llmproxy_usage_records_written_total") >= sent.length, `${sent.length} records written`);
    rows = readUsageRecords(join(dir, "usage.db"));
    records = byRequestId(rows);
    expect(rows.length).toBe(sent.length);
    expect([...records.keys()].sort()).toEqual([...sent].sort());
  });

  test("each record says what the request's outcome was: backend, retries, status, key, tokens", () => {
    const wrong: string[] = [];
    for (const [id, want] of expected) {
      const r = records.get(id)!;
      for (const [k, v] of Object.entries(want)) {
        if (r[k as keyof StoredUsage] !== v) wrong.push(`${id}: ${k} = ${JSON.stringify(r[k as keyof StoredUsage])}, want ${JSON.stringify(v)}`);
      }
    }
    expect(wrong).toEqual([]);
    // the broken stream was estimated from what passed: something, and less than asked for
    const broken = rows.find((r) => r.request_id.endsWith("meter-oa-broken"))!;
    expect(broken.prompt_tokens).toBeGreaterThan(0);
    expect(broken.completion_tokens).toBeGreaterThan(0);
    expect(broken.completion_tokens).toBeLessThan(TOKENS);
  });

  test("/metrics tokens by type, cache_write included, equal the records' sums, route by route", () => {
    const types = { prompt: "prompt_tokens", completion: "completion_tokens", cached: "cached_tokens", cache_write: "cache_write_tokens" } as const;
    const fromRows: Record<string, number> = {};
    const fromMetrics: Record<string, number> = {};
    for (const r of rows) {
      for (const [type, col] of Object.entries(types)) {
        if (r[col]) fromRows[`${r.route} ${type}`] = (fromRows[`${r.route} ${type}`] ?? 0) + r[col];
      }
    }
    for (const s of metrics.samples("llmproxy_tokens_total")) if (s.value) fromMetrics[`${s.labels.model} ${s.labels.type}`] = s.value;
    expect(fromMetrics).toEqual(fromRows);
    expect(metrics.sum("llmproxy_tokens_total", { type: "cache_write" })).toBe(rows.reduce((a, r) => a + r.cache_write_tokens, 0));
    expect(metrics.sum("llmproxy_tokens_total", { type: "cache_write" })).toBe(18);
    expect(metrics.sum("llmproxy_requests_total")).toBe(rows.length);
  });
});
