// Streams that do not end the normal way, and many streams at once. A stream the backend
// breaks off ends with an error event the OpenAI SDK raises, and the tokens streamed so
// far are counted; a client that leaves stops the backend at once and is logged as 499
// with the tokens generated until then; a thousand concurrent streams all arrive whole
// with exact usage.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { readEvents, readUntilFailure, sseData } from "../helpers/sse.ts";
import { runSwarm } from "../helpers/swarm.ts";
import { drainChat } from "../helpers/client-fixtures.ts";
import { metric } from "../helpers/routing.ts";
import { httpResponse, startScriptedBackend, type ScriptedBackend } from "../helpers/scripted-backend.ts";
import { startWrappedMock, type WrappedMock } from "../helpers/wrapped-mock.ts";

const SWARM = 1000;
const SWARM_TOKENS = 12;

let mock: MockServer;
/** Holds every request until SWARM of them are in at once, then answers them all. */
let gated: WrappedMock;
let proxy: ProxyProcess;
let client: OpenAI;
/** Streams two tokens, then an error event as vLLM sends one when the engine fails, then nothing. */
let erring: ScriptedBackend;

const chunk = (content: string) => `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`;
const ENGINE_ERROR = 'data: {"error":{"object":"error","message":"The engine died.","type":"InternalServerError","code":500}}\n\n';

const HI = [{ role: "user" as const, content: "Hello there" }];

beforeAll(async () => {
  mock = await startMockServer({ tokens: 8, delayMs: 0 });
  gated = await startWrappedMock({ tokens: SWARM_TOKENS, delayMs: 2, gate: SWARM });
  // no end after the error event (no length, not chunked, the connection left open): the
  // request ends when the client, whose SDK raised the event, goes away
  erring = await startScriptedBackend(() => ({
    bytes: httpResponse(200, [["Content-Type", "text/event-stream"]], chunk("Hello") + chunk(" there") + ENGINE_ERROR, null),
    then: "stall",
  }));
  proxy = await startProxy({
    config: `
backends:
  - name: vllm-a
    url: ${mock.url}
    provider: openai
  - name: gated
    url: ${gated.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
  - name: erring
    url: ${erring.url}
    provider: openai
    health: { interval: 0s }
models:
  - name: llama
    targets: [{ backend: vllm-a }]
  - name: swarm
    targets: [{ backend: gated }]
  - name: erring
    targets: [{ backend: erring }]
timeouts: { connect: 5s, first_byte: 60s, idle: 30s, total: 120s }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await gated.stop();
  await erring.stop();
});

describe("an error the backend sends inside its stream", () => {
  test("reaches the OpenAI client as sent (it raises it); the client then leaving, the record still says upstream_stream_error (status 200), with the tokens before it estimated", async () => {
    const before = await metric(proxy.url, "llmproxy_upstream_errors_total", { backend: "erring", code: "upstream_stream_error" });
    const closed = erring.nextClientClose();
    const { data: stream, response } = await client.chat.completions.create({ model: "erring", messages: HI, stream: true }).withResponse();
    const { text, error } = await drainChat(stream);
    // the client goes (whatever its SDK did already): the backend, still silent, is cut
    stream.controller.abort();
    await closed;
    expect(text).toBe("Hello there");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("The engine died.");
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, error_code: "upstream_stream_error", usage_source: "estimate", completion_tokens: 2 });
    const warn = await proxy.waitForLog((l) => l.msg === "the backend reported an error in its stream" && l.request_id === line.request_id, "the stream error warning");
    expect(warn).toMatchObject({ level: "warn", backend: "erring", backend_error: "500" });
    expect(await metric(proxy.url, "llmproxy_upstream_errors_total", { backend: "erring", code: "upstream_stream_error" })).toBe(before + 1);
  });
});

function post(body: object, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Content tokens in a list of chat chunk data payloads. */
function contentTokens(events: string[]): number {
  let n = 0;
  for (const d of events) {
    if (d === "[DONE]") continue;
    const c = (JSON.parse(d) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
    if (c) n++;
  }
  return n;
}

describe("a stream the backend breaks off (x-mock-drop-after)", () => {
  test("the OpenAI client raises the error event; the tokens streamed before the break are counted", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "llama", messages: HI, stream: true }, { headers: { "x-mock-drop-after": "3" } })
      .withResponse();
    const { text, error } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(3));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_error", type: "server_error" });
    const end = await seen;
    expect(end).toMatchObject({ aborted: false, completionTokensSent: 3 });
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, error_code: "upstream_error", completion_tokens: 3, usage_source: "estimate", stream: true });
    expect(line.prompt_tokens).toBeGreaterThan(0);
  });

  test("with include_usage asked by the client, a broken stream is still counted (estimate)", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "llama", messages: HI, stream: true, stream_options: { include_usage: true } }, { headers: { "x-mock-drop-after": "5" } })
      .withResponse();
    const { text, error } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(5));
    expect(error).toMatchObject({ code: "upstream_error" });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ completion_tokens: 5, usage_source: "estimate" });
  });

  test("legacy completions: the last event is OpenAI's error object and no [DONE] follows", async () => {
    const res = await fetch(`${proxy.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-drop-after": "2" },
      body: JSON.stringify({ model: "llama", prompt: "Once", stream: true }),
    });
    const { text, error } = await readUntilFailure(res);
    expect(error).toBeNull();
    const events = sseData(text);
    expect(JSON.parse(events.at(-1)!).error).toMatchObject({ type: "server_error", param: null, code: "upstream_error" });
    expect(events).not.toContain("[DONE]");
    expect(await proxy.accessLine(res.headers.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/completions", completion_tokens: 2, error_code: "upstream_error" });
  });

  test("/v1/responses: the Responses API's error event, raised by the OpenAI client", async () => {
    const { data: stream, response } = await client.responses
      .create({ model: "llama", input: "Once", stream: true }, { headers: { "x-mock-drop-after": "4" } })
      .withResponse();
    let text = "";
    const error = await (async () => {
      for await (const ev of stream) if (ev.type === "response.output_text.delta") text += ev.delta;
    })().catch((e: unknown) => e);
    expect(text).toBe(mockCompletionText(4));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_error" });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ completion_tokens: 4, usage_source: "estimate", error_code: "upstream_error" });
  });
});

describe("a client that disconnects", () => {
  test("mid-stream (OpenAI client, break out of the loop): the backend sees the abort; logged 499 with the tokens generated so far", async () => {
    const aborted = mock.backend.nextEnd((e) => e.aborted);
    // the backend stalls after 4 tokens, so "generated so far" is exactly 4
    const { data: stream, response } = await client.chat.completions
      .create({ model: "llama", messages: HI, stream: true }, { headers: { "x-mock-hang-after": "4" } })
      .withResponse();
    let got = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) got++;
      if (got === 4) break; // the SDK aborts the request
    }
    const end = await aborted;
    expect(end.completionTokensSent).toBe(4);
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 499, error_code: "client_closed_request", completion_tokens: 4, usage_source: "estimate", stream: true });
    expect(line.prompt_tokens).toBeGreaterThan(0);
  });

  test("mid-stream while tokens flow (fetch + AbortController): the backend stops; logged 499 with the tokens it had passed on", async () => {
    const ac = new AbortController();
    const aborted = mock.backend.nextEnd((e) => e.aborted);
    const res = await post({ model: "llama", messages: HI, stream: true }, { "x-mock-tokens": "1000000", "x-mock-delay-ms": "2", "x-request-id": "abort-flowing-1" }, ac.signal);
    const { events } = await readEvents(res, 11); // the role chunk and 10 tokens
    const received = contentTokens(events);
    ac.abort();
    const end = await aborted;
    expect(end.completionTokensSent).toBeLessThan(1_000_000);
    const line = await proxy.accessLine("abort-flowing-1");
    expect(line).toMatchObject({ status: 499, error_code: "client_closed_request", usage_source: "estimate" });
    // at least what the client read, at most what the backend had sent
    expect(line.completion_tokens as number).toBeGreaterThanOrEqual(received);
    expect(line.completion_tokens as number).toBeLessThanOrEqual(end.completionTokensSent);
  });

  test("before the first byte: the backend sees the abort; logged 499, no tokens", async () => {
    const ac = new AbortController();
    const started = mock.backend.nextStart();
    const aborted = mock.backend.nextEnd((e) => e.aborted);
    const pending = post({ model: "llama", messages: HI, stream: true }, { "x-mock-hang": "headers", "x-request-id": "abort-early-1" }, ac.signal).catch((e: unknown) => e);
    await started;
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    expect((await aborted).status).toBe(0);
    expect(await proxy.accessLine("abort-early-1")).toMatchObject({ status: 499, error_code: "client_closed_request", completion_tokens: 0 });
  });

  test("a whole answer being generated: the backend sees the abort; logged 499", async () => {
    const ac = new AbortController();
    const started = mock.backend.nextStart();
    const aborted = mock.backend.nextEnd((e) => e.aborted);
    // a whole answer takes delay × tokens to generate: 60 s here, so the abort comes first
    const pending = post({ model: "llama", messages: HI }, { "x-mock-delay-ms": "10000", "x-request-id": "abort-whole-1" }, ac.signal).catch((e: unknown) => e);
    await started;
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    expect((await aborted).completionTokensSent).toBe(0);
    expect(await proxy.accessLine("abort-whole-1")).toMatchObject({ status: 499, error_code: "client_closed_request" });
  });
});

describe("a client that disconnects while uploading its body", () => {
  test("is logged 499 client_closed_request, not as an internal error, and nothing is forwarded", async () => {
    const before = mock.backend.stats.requests;
    const url = new URL(proxy.url);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(Number(url.port), url.hostname);
      sock.on("error", reject);
      // "100 Continue" says the gateway has the request and is reading its body: leave then
      sock.once("data", () => {
        sock.write('{"model":"llama","messages":[');
        sock.destroy();
        resolve();
      });
      sock.write(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          "X-Request-Id: upload-abandoned-1\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n",
      );
    });
    const line = await proxy.accessLine("upload-abandoned-1");
    expect({ status: line.status, error_code: line.error_code }).toEqual({ status: 499, error_code: "client_closed_request" });
    expect(proxy.logs.filter((l) => l.level === "error" && l.request_id === "upload-abandoned-1")).toEqual([]);
    expect(mock.backend.stats.requests).toBe(before);
  });
});

describe("many streams at once", () => {
  test(
    `${SWARM} concurrent streams are all in flight together, all complete with the exact text, and the access log holds ${SWARM} lines with exact usage`,
    async () => {
      const body = { model: "swarm", messages: HI, stream: true };
      const results = await runSwarm({
        url: `${proxy.url}/v1/chat/completions`,
        count: SWARM,
        body: JSON.stringify(body),
        idPrefix: "swarm-",
        timeoutMs: 90_000,
      });
      // the backend let no request through before all of them had arrived
      await gated.opened;
      expect(results.filter((r) => r.error !== null).map((r) => r.error)).toEqual([]);
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      const want = mockCompletionText(SWARM_TOKENS);
      expect(results.filter((r) => r.text !== want || !r.done || r.usageSeen)).toEqual([]);

      const prompt = countPromptTokens("chat", body);
      const lines = new Map<string, LogLine>();
      const take = (l: LogLine) => {
        if (l.msg === "request" && typeof l.request_id === "string" && l.request_id.startsWith("swarm-")) lines.set(l.request_id, l);
      };
      // Lines arrive many to a pipe read: re-scan everything after each wake-up, or the
      // lines that came in the same read as the awaited one would be missed.
      for (;;) {
        for (const l of proxy.requests()) take(l);
        if (lines.size >= SWARM) break;
        await proxy.nextLog((l) => l.msg === "request" && String(l.request_id).startsWith("swarm-") && !lines.has(String(l.request_id)), `${SWARM} swarm access-log lines (have ${lines.size})`);
      }
      const wrong = [...lines.values()].filter(
        (l) => l.status !== 200 || l.completion_tokens !== SWARM_TOKENS || l.prompt_tokens !== prompt || l.usage_source !== "backend" || l.error_code !== null,
      );
      expect(wrong).toEqual([]);
      expect(gated.backend.stats).toMatchObject({ requests: SWARM, completed: SWARM, aborted: 0, active: 0 });
    },
    120_000,
  );
});
