// The proxy engine end to end: the real daemon in its own process, a real fake backend
// on 127.0.0.1, the official openai client and raw fetch for byte-level checks.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";

let mock: MockServer;
let proxy: ProxyProcess;
let client: OpenAI;

const HELLO = [{ role: "user" as const, content: "Hello there" }];

beforeAll(async () => {
  mock = await startMockServer({ tokens: 5, delayMs: 1 });
  proxy = await startProxy({
    config: `
backends:
  - name: vllm-a
    url: ${mock.url}
    provider: openai
    api_key: upstream-secret-123
models:
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
});

/** The access-log line of the request with this id. */
async function accessLine(requestId: string) {
  return await proxy.waitForLog((l) => l.msg === "request" && l.request_id === requestId, `access log of ${requestId}`);
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
