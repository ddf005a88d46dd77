// "Minus nothing, plus nothing": what a client gets through the proxy is byte for byte
// what it would get from the backend directly, and the backend gets the client's body
// byte for byte, except for the two edits the proxy is documented to make (the route's
// model rename, and stream_options.include_usage on streams; src/proxy/request-body.ts).
//
// Two mocks with the same id tag and a pinned clock answer identical request sequences
// identically: one is called directly, the other through the proxy.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { startScriptedBackend, type ScriptedBackend } from "../helpers/scripted-backend.ts";

const NOW = () => Date.UTC(2026, 0, 2, 3, 4, 5);

/** Called directly. */
let direct: MockServer;
/** Behind the proxy (route "*"), answering the same sequence as `direct`. */
let behind: MockServer;
/** Behind the proxy for the request-body checks (kept apart so the two above stay in step). */
let receiver: MockServer;
/** Another server's stream: CRLF framing, keep-alive comments, usage members in other places. */
let other: ScriptedBackend;
let proxy: ProxyProcess;

const crlfEvent = (data: string) => `data: ${data}\r\n\r\n`;
const OTHER_CHUNKS = [
  ": keep-alive\r\n\r\n",
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}],"usage":null}'),
  crlfEvent('{"usage":null,"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" \\"usage\\": there"}}]}'),
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}], "usage" : null}'),
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}'),
  "data: [DONE]\r\n\r\n",
];
/** What a client that did not ask for usage must get: no usage chunk, no usage members. */
const OTHER_WITHOUT_USAGE = [
  ": keep-alive\r\n\r\n",
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}'),
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" \\"usage\\": there"}}]}'),
  crlfEvent('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
  "data: [DONE]\r\n\r\n",
].join("");

beforeAll(async () => {
  direct = await startMockServer({ tokens: 9, delayMs: 0, idTag: "same", now: NOW });
  behind = await startMockServer({ tokens: 9, delayMs: 0, idTag: "same", now: NOW });
  receiver = await startMockServer({ tokens: 3, delayMs: 0 });
  other = await startScriptedBackend(() => {
    const body = OTHER_CHUNKS.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join("") + "0\r\n\r\n";
    return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`, then: "close" };
  });
  proxy = await startProxy({
    config: `
backends:
  - name: behind
    url: ${behind.url}
    provider: openai
  - name: receiver
    url: ${receiver.url}
    provider: openai
  - name: other
    url: ${other.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
models:
  - name: other-server
    targets: [{ backend: other }]
  - name: passthrough
    targets: [{ backend: receiver }]
  - name: renamed
    targets: [{ backend: receiver, model: org/real-model }]
  - name: "*"
    targets: [{ backend: behind }]
timeouts: { connect: 5s, first_byte: 10s, idle: 10s, total: 60s }
retries: { attempts: 0 }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await Promise.all([direct.stop(), behind.stop(), receiver.stop(), other.stop()]);
});

interface Seen {
  status: number;
  contentType: string | null;
  body: Buffer;
}

async function post(base: string, path: string, body: string, headers: Record<string, string>): Promise<Seen> {
  const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: res.status, contentType: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()) };
}

/** The same request directly and through the proxy: status, content type and body bytes must agree. */
async function sameBytes(path: string, body: object | string, headers: Record<string, string> = {}): Promise<Buffer> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  // both always sent, in the same order, so the two mocks' id sequences stay in step
  const want = await post(direct.url, path, text, headers);
  const got = await post(proxy.url, path, text, headers);
  expect(got.status).toBe(want.status);
  expect(got.contentType).toBe(want.contentType);
  expect(got.body.toString("utf8")).toBe(want.body.toString("utf8"));
  expect(got.body.equals(want.body)).toBe(true);
  return got.body;
}

const MESSAGES = [{ role: "user", content: "Hello there, how are you?" }];
const TOOLS = [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] } } }];

describe("answers are byte-identical to a direct connection", () => {
  test("plain chat", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES });
  });

  test("streamed chat without include_usage: the usage the proxy asked for is taken out again, every byte else kept", async () => {
    const body = await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true });
    expect(body.toString()).not.toContain("usage");
  });

  test("streamed chat with include_usage: the usage chunk and the usage:null members as the backend sent them", async () => {
    const body = await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
    expect(body.toString()).toContain('"usage":null');
    expect(body.toString()).toContain('"completion_tokens":9');
  });

  test("streamed chat with include_usage: false, and with stream_options: null", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true, stream_options: { include_usage: false } });
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true, stream_options: null });
  });

  test("tool calls, whole and streamed (with and without include_usage)", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, tools: TOOLS });
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, tools: TOOLS, stream: true });
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, tools: TOOLS, stream: true, stream_options: { include_usage: true } });
  });

  test("legacy completions, whole and streamed (with and without include_usage)", async () => {
    await sameBytes("/v1/completions", { model: "m1", prompt: "Once upon a time" });
    await sameBytes("/v1/completions", { model: "m1", prompt: "Once upon a time", stream: true });
    await sameBytes("/v1/completions", { model: "m1", prompt: "Once upon a time", stream: true, stream_options: { include_usage: true } });
  });

  test("/v1/responses, whole and streamed", async () => {
    await sameBytes("/v1/responses", { model: "m1", input: "Once upon a time" });
    await sameBytes("/v1/responses", { model: "m1", input: [{ role: "user", content: "Once upon a time" }], stream: true });
  });

  test("embeddings, as floats and as base64", async () => {
    await sameBytes("/v1/embeddings", { model: "e1", input: ["alpha", "beta"] });
    await sameBytes("/v1/embeddings", { model: "e1", input: "alpha", encoding_format: "base64", dimensions: 32 });
  });

  test("a backend without usage: streams stay identical, with and without include_usage", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true }, { "x-mock-usage": "0" });
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true, stream_options: { include_usage: true } }, { "x-mock-usage": "0" });
  });

  test("answers cut by max_tokens (finish_reason length), streamed and whole", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true, max_tokens: 4 });
    await sameBytes("/v1/responses", { model: "m1", input: "Once", stream: true, max_output_tokens: 4 });
  });

  test("a 1 MB answer, whole and streamed", async () => {
    const big = { "x-mock-tokens": "250000" };
    const whole = await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES }, big);
    expect(whole.length).toBeGreaterThan(1 << 20);
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES, stream: true }, big);
  }, 30_000);

  test("a backend's refusal in OpenAI form passes unchanged", async () => {
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES }, { "x-mock-status": "429" });
    await sameBytes("/v1/chat/completions", { model: "m1", messages: MESSAGES }, { "x-mock-status": "400" });
  });
});

describe("another server's stream (CRLF framing, comments, usage members in any position)", () => {
  test("without include_usage: exactly the backend's bytes minus the usage chunk and the usage:null members", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "other-crlf-1" },
      body: JSON.stringify({ model: "other-server", messages: MESSAGES, stream: true }),
    });
    expect(await res.text()).toBe(OTHER_WITHOUT_USAGE);
    expect(await proxy.accessLine("other-crlf-1")).toMatchObject({ prompt_tokens: 11, completion_tokens: 3, usage_source: "backend" });
  });

  test("with include_usage: exactly the backend's bytes", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "other-server", messages: MESSAGES, stream: true, stream_options: { include_usage: true } }),
    });
    expect(await res.text()).toBe(OTHER_CHUNKS.join(""));
  });
});

/** Sends `text` through the proxy and returns the raw body the backend received. */
async function bodyReceived(text: string): Promise<string> {
  const seen = receiver.backend.nextEnd();
  const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: text });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return (await seen).body;
}

// Everything the gateway does not own, written the way a client might: odd spacing,
// key order, number spellings, escapes, big integers, unknown fields, images, logprobs.
const ODD_BODY = `{ "model" : "passthrough",
  "messages": [
    {"role":"system","content":"Be brief.\\u00e9\\n Réponds en français, 日本語も 🎉"},
    {"role":"user","content":[{"type":"text","text":"What is in this image? \\"quoted\\""},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==","detail":"low"}}]}
  ],
  "tools": [{"type":"function","function":{"name":"lookup","strict":true,"parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"],"additionalProperties":false}}}],
  "tool_choice": "none",
  "logprobs": true, "top_logprobs": 3,
  "temperature": 1.0, "top_p": 1e0, "seed": 12345678901234567890,
  "logit_bias": {"50256": -100},
  "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
  "x_vendor_extension": {"nested": [1, 2.50, null, true, "\\ud83d\\ude00"]},
  "user": "u-1"
}`;

describe("request bodies reach the backend byte for byte", () => {
  test("a body with unknown fields, tools, logprobs and an image reaches the backend unchanged", async () => {
    expect(await bodyReceived(ODD_BODY)).toBe(ODD_BODY);
  });

  test("a 1 MB body reaches the backend unchanged", async () => {
    const sent = ODD_BODY.replace('"user": "u-1"', `"user": "u-1", "x_padding": "${"ab\\n".repeat(300_000)}"`);
    expect(sent.length).toBeGreaterThan(1 << 20);
    expect(await bodyReceived(sent)).toBe(sent);
  });

  test("the route's model rename changes the model's value and nothing else", async () => {
    const sent = ODD_BODY.replace('"model" : "passthrough"', '"model" : "renamed"');
    expect(await bodyReceived(sent)).toBe(ODD_BODY.replace('"model" : "passthrough"', '"model" : "org/real-model"'));
  });

  test("a stream without stream_options gets include_usage prepended, the rest unchanged", async () => {
    const sent = ODD_BODY.replace('"user": "u-1"', '"user": "u-1", "stream": true');
    expect(await bodyReceived(sent)).toBe(`{"stream_options":{"include_usage":true},${sent.slice(1)}`);
  });

  test("a stream with other stream_options keeps them, include_usage turned on in place", async () => {
    const sent = ODD_BODY.replace('"user": "u-1"', '"user": "u-1", "stream": true, "stream_options": {"include_usage": false, "continuous_usage_stats": true}');
    const received = await bodyReceived(sent);
    expect(received).toBe(sent.replace('{"include_usage": false, "continuous_usage_stats": true}', '{"include_usage":true,"continuous_usage_stats":true}'));
  });

  test("a stream that asks for usage itself is forwarded unchanged", async () => {
    const sent = ODD_BODY.replace('"user": "u-1"', '"user": "u-1", "stream": true, "stream_options": {"include_usage": true}');
    expect(await bodyReceived(sent)).toBe(sent);
  });
});
