// The proxy engine end to end: the real daemon in its own process, a real fake backend
// on 127.0.0.1, the official openai client and raw fetch for byte-level checks.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { mockEmbedding } from "../../src/mock/openai-embeddings.ts";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { streamedText } from "../helpers/sse.ts";
import { WEATHER_TOOL } from "../helpers/client-fixtures.ts";

let mock: MockServer;
/** A backend that never reports usage. */
let silent: MockServer;
let proxy: ProxyProcess;
let client: OpenAI;

const HELLO = [{ role: "user" as const, content: "Hello there" }];

beforeAll(async () => {
  mock = await startMockServer({ tokens: 5, delayMs: 1 });
  silent = await startMockServer({ tokens: 7, delayMs: 0, usage: false });
  proxy = await startProxy({
    config: `
backends:
  - name: vllm-a
    url: ${mock.url}
    provider: openai
    api_key: upstream-secret-123
  - name: silent
    url: ${silent.url}
    provider: openai
  - name: api-base
    url: ${mock.url}/v1/
    provider: openai
models:
  - name: versioned
    targets: [{ backend: api-base }]
  - name: no-usage
    targets: [{ backend: silent }]
  - name: llama
    targets: [{ backend: vllm-a, model: meta-llama/Llama-3-8B }]
  - name: "*"
    targets: [{ backend: vllm-a }]
server:
  max_body: 64KiB
timeouts: { connect: 2s, first_byte: 2s, idle: 2s, total: 30s }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "client-key-should-not-leak", maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await silent.stop();
});

/** The access-log line of the request with this id. */
async function accessLine(requestId: string) {
  return await proxy.accessLine(requestId);
}

describe("chat completions through the proxy", () => {
  test("plain chat: the answer, exact usage, and the route's model rename reaching the backend", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "llama", messages: HELLO }).withResponse();
    expect(res.data.choices[0]!.message.content).toBe(mockCompletionText(5));
    expect(res.data.usage?.completion_tokens).toBe(5);
    const end = await seen;
    expect(JSON.parse(end.body).model).toBe("meta-llama/Llama-3-8B");
    const line = await accessLine(res.response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, route: "llama", backend: "vllm-a", prompt_tokens: end.promptTokens, completion_tokens: 5, usage_source: "backend", stream: false });
  });

  test("the client's key never reaches the backend; the backend's own key does", async () => {
    const seen = mock.backend.nextEnd();
    await client.chat.completions.create({ model: "llama", messages: HELLO });
    const end = await seen;
    expect(end.headers.get("authorization")).toBe("Bearer upstream-secret-123");
    const all = [...end.headers.values()].join("\n");
    expect(all).not.toContain("client-key-should-not-leak");
  });

  test("streamed chat without include_usage: the client gets no usage chunk, the log has exact usage", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions.create({ model: "llama", messages: HELLO, stream: true }).withResponse();
    let text = "";
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usageChunks++;
      expect("usage" in chunk).toBe(false);
    }
    expect(text).toBe(mockCompletionText(5));
    expect(usageChunks).toBe(0);
    const end = await seen;
    // the proxy asked the backend for usage on the client's behalf
    expect(JSON.parse(end.body).stream_options).toEqual({ include_usage: true });
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ completion_tokens: 5, prompt_tokens: end.promptTokens, usage_source: "backend", stream: true });
  });

  test("streamed chat with include_usage: the client gets the usage chunk as sent", async () => {
    const stream = await client.chat.completions.create({ model: "llama", messages: HELLO, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBe(5);
  });
});

describe("a backend URL written as an API base, version included (https://api.deepseek.com/v1)", () => {
  test("requests go to base + /chat/completions and base + /embeddings, not .../v1/v1/...", async () => {
    const chat = await client.chat.completions.create({ model: "versioned", messages: HELLO });
    expect(chat.choices[0]!.message.content).toBe(mockCompletionText(5));
    const stream = await client.chat.completions.create({ model: "versioned", messages: HELLO, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
    expect(text).toBe(mockCompletionText(5));
    const emb = await client.embeddings.create({ model: "versioned", input: "hi" });
    expect(emb.data).toHaveLength(1);
  });
});

describe("tool calls through the proxy", () => {
  test("a streamed tool call arrives as argument fragments that join into the backend's JSON, with exact usage", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions.create({ model: "llama", messages: HELLO, tools: [WEATHER_TOOL], stream: true }).withResponse();
    let args = "";
    let name = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const call of choice?.delta?.tool_calls ?? []) {
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
      finish = choice?.finish_reason ?? finish;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ location: mockCompletionText(5) });
    expect(finish).toBe("tool_calls");
    const end = await seen;
    expect(JSON.parse(end.body).tools).toEqual([WEATHER_TOOL]);
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, completion_tokens: end.completionTokensSent, prompt_tokens: end.promptTokens, usage_source: "backend" });
  });

  test("a tool call in a whole answer arrives intact", async () => {
    const res = await client.chat.completions.create({ model: "llama", messages: HELLO, tools: [WEATHER_TOOL], tool_choice: "required" });
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: mockCompletionText(5) });
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
  });
});

describe("the other OpenAI endpoints through the proxy", () => {
  test("legacy completions, whole and streamed, with exact usage", async () => {
    const whole = await client.completions.create({ model: "llama", prompt: "Say something" }).withResponse();
    expect(whole.data.choices[0]!.text).toBe(mockCompletionText(5));
    expect(await accessLine(whole.response.headers.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/completions", completion_tokens: 5, usage_source: "backend" });

    const { data: stream, response } = await client.completions.create({ model: "llama", prompt: "Say something", stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      expect("usage" in chunk).toBe(false);
    }
    expect(text).toBe(mockCompletionText(5));
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/completions", completion_tokens: 5, usage_source: "backend", stream: true });
  });

  test("embeddings: the vectors the backend computed (base64 by default in the SDK, and as floats), prompt tokens logged", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.embeddings.create({ model: "text-embedding-3-small", input: ["first text", "second text"] }).withResponse();
    expect(res.data.map((d) => d.embedding)).toEqual([Array.from(mockEmbedding("first text", 8)), Array.from(mockEmbedding("second text", 8))]);
    const end = await seen;
    expect(JSON.parse(end.body).encoding_format).toBe("base64");
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({
      endpoint: "/v1/embeddings",
      route: "*",
      prompt_tokens: end.promptTokens,
      completion_tokens: 0,
      usage_source: "backend",
    });

    const floats = await client.embeddings.create({ model: "text-embedding-3-small", input: "first text", encoding_format: "float", dimensions: 16 });
    expect(floats.data[0]!.embedding).toEqual(Array.from(mockEmbedding("first text", 16)));
  });

  test("/v1/responses, whole: the output text and exact input/output usage", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.responses.create({ model: "llama", input: "Tell me a story" }).withResponse();
    expect(res.output_text).toBe(mockCompletionText(5));
    expect(res.usage?.output_tokens).toBe(5);
    const end = await seen;
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({
      endpoint: "/v1/responses",
      upstream_model: "meta-llama/Llama-3-8B",
      prompt_tokens: end.promptTokens,
      completion_tokens: 5,
      usage_source: "backend",
      stream: false,
    });
  });

  test("/v1/responses, streamed: every typed event in order, the completed response last, exact usage", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.responses.create({ model: "llama", input: "Tell me a story", stream: true }).withResponse();
    const types: string[] = [];
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") completed = ev.response;
    }
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types.filter((t) => t === "response.output_text.delta")).toHaveLength(5);
    expect(text).toBe(mockCompletionText(5));
    expect(completed?.usage?.output_tokens).toBe(5);
    const end = await seen;
    // the Responses API always reports usage in its last event: nothing is injected
    expect(JSON.parse(end.body).stream_options).toBeUndefined();
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({ prompt_tokens: end.promptTokens, completion_tokens: 5, usage_source: "backend", stream: true });
  });
});

describe("large answers", () => {
  // ~4.8 characters per mock token: 250k tokens is a ~1.2 MB text, past the size the
  // proxy reads whole (1 MiB), so it is streamed through and its usage read from the tail.
  const BIG = 250_000;
  const big = { headers: { "x-mock-tokens": String(BIG), "x-mock-delay-ms": "0" } };

  test("a 1 MB whole answer arrives complete, with its exact usage", async () => {
    const { data: res, response } = await client.chat.completions.create({ model: "llama", messages: HELLO }, big).withResponse();
    const content = res.choices[0]!.message.content!;
    expect(content.length).toBeGreaterThan(1 << 20);
    expect(content).toBe(mockCompletionText(BIG));
    expect(await accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, completion_tokens: BIG, usage_source: "backend" });
  });

  test("a 1 MB streamed answer arrives complete, with its exact usage", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...big.headers },
      body: JSON.stringify({ model: "llama", messages: HELLO, stream: true }),
    });
    const text = await res.text();
    expect(streamedText(text)).toBe(mockCompletionText(BIG));
    expect(text).not.toContain('"usage"');
    expect(await accessLine(res.headers.get("x-request-id")!)).toMatchObject({ status: 200, completion_tokens: BIG, usage_source: "backend", stream: true });
  }, 30_000);
});

describe("usage when the backend reports none", () => {
  test("a whole answer without usage is counted with the tokenizer: usage_source estimate, non-zero counts", async () => {
    const { data: res, response } = await client.chat.completions.create({ model: "llama", messages: HELLO }, { headers: { "x-mock-usage": "0" } }).withResponse();
    expect(res.usage).toBeUndefined();
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, usage_source: "estimate", completion_tokens: 5 });
    expect(line.prompt_tokens).toBeGreaterThan(0);
  });

  test("a stream without usage (even when asked for) is counted with the tokenizer", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "llama", messages: HELLO, stream: true, stream_options: { include_usage: true } }, { headers: { "x-mock-usage": "0" } })
      .withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe(mockCompletionText(5));
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, usage_source: "estimate", completion_tokens: 5 });
    expect(line.prompt_tokens).toBeGreaterThan(0);
  });

  test("a backend that never reports usage (mock started with usage: false) is estimated too", async () => {
    const { data: stream, response } = await client.chat.completions.create({ model: "no-usage", messages: HELLO, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe(mockCompletionText(7));
    const line = await accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, backend: "silent", usage_source: "estimate", completion_tokens: 7 });
    expect(line.prompt_tokens).toBeGreaterThan(0);

    const whole = await client.responses.create({ model: "no-usage", input: "Tell me a story" }).withResponse();
    expect(whole.data.output_text).toBe(mockCompletionText(7));
    const wline = await accessLine(whole.response.headers.get("x-request-id")!);
    expect(wline).toMatchObject({ usage_source: "estimate", completion_tokens: 7 });
    expect(wline.prompt_tokens).toBeGreaterThan(0);
  });
});
