// Every upstream timeout ends the request with its own error code: a 504 in OpenAI form
// when nothing was sent to the client yet, an error event in the stream (which the
// OpenAI SDK raises) once the answer had begun. The backend sees the abort, and the
// tokens already streamed are counted. Timeouts are short here so the tests are quick;
// nothing asserts on how long anything took.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { drainChat } from "../helpers/client-fixtures.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { underNode } from "../helpers/spawn.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { readUntilFailure, sseData, streamedText } from "../helpers/sse.ts";
import { httpResponse, startScriptedBackend, type ScriptedBackend } from "../helpers/scripted-backend.ts";
import { startUnacceptingPort, type UnacceptingPort } from "../helpers/unaccepting-port.ts";

let mock: MockServer;
let blackhole: UnacceptingPort;
/** Sends part of an answer, then nothing (picked by the request's x-script header). */
let stuck: ScriptedBackend;
/** Per-backend first_byte, idle and connect timeouts; a long total. */
let proxy: ProxyProcess;
/** A short total; every other timeout long. */
let totalProxy: ProxyProcess;
let client: OpenAI;
let totalClient: OpenAI;

const HI = [{ role: "user" as const, content: "hi" }];

beforeAll(async () => {
  mock = await startMockServer({ tokens: 6, delayMs: 0 });
  blackhole = await startUnacceptingPort();
  stuck = await startScriptedBackend((req) => ({ bytes: STUCK[req.headers.get("x-script") ?? ""] ?? httpResponse(500, [], "no such script"), then: "stall" }));
  proxy = await startProxy({
    config: `
backends:
  - name: first-byte
    url: ${mock.url}
    provider: openai
    timeouts: { first_byte: 300ms, idle: 10s }
  - name: idle
    url: ${mock.url}
    provider: openai
    timeouts: { first_byte: 10s, idle: 300ms }
  - name: blackhole
    url: ${blackhole.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
    timeouts: { connect: 200ms, first_byte: 10s }
  - name: stuck
    url: ${stuck.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
    timeouts: { first_byte: 10s, idle: 300ms }
models:
  - name: stuck
    targets: [{ backend: stuck }]
  - name: slow-start
    targets: [{ backend: first-byte }]
  - name: stalls
    targets: [{ backend: idle }]
  - name: unconnectable
    targets: [{ backend: blackhole }]
timeouts: { connect: 5s, first_byte: 10s, idle: 10s, total: 10s }
retries: { attempts: 0 }
`,
  });
  totalProxy = await startProxy({
    config: `
backends:
  - name: vllm
    url: ${mock.url}
    provider: openai
models:
  - name: long
    targets: [{ backend: vllm }]
timeouts: { connect: 10s, first_byte: 10s, idle: 10s, total: 500ms }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
  totalClient = new OpenAI({ baseURL: `${totalProxy.url}/v1`, apiKey: "k", maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  expect(await totalProxy.stop()).toBe(0);
  await mock.stop();
  await blackhole.stop();
  await stuck.stop();
});

/** Answers that begin and then stop: headers and part of a body, nothing after. */
const STUCK: Record<string, string> = {
  // a sized JSON answer, a third of it sent
  "json-part": httpResponse(200, [["Content-Type", "application/json"]], '{"id":"chatcmpl-1","object":"chat.completion",', 300),
  // a refusal whose error body never completes
  "error-part": httpResponse(500, [["Content-Type", "application/json"]], '{"error":{"message":"overl', 200),
  // an event stream's headers, then silence
  "sse-headers": httpResponse(200, [["Content-Type", "text/event-stream"], ["Transfer-Encoding", "chunked"]], "", null),
};

interface JsonError {
  status: number;
  requestId: string;
  error: { message: string; type: string; param: string | null; code: string };
}

async function post(base: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

async function jsonError(res: Response): Promise<JsonError> {
  expect(res.headers.get("content-type")).toStartWith("application/json");
  const { error } = (await res.json()) as { error: JsonError["error"] };
  return { status: res.status, requestId: res.headers.get("x-request-id")!, error };
}

describe("first-byte timeout (x-mock-hang: headers)", () => {
  test("a whole answer that never starts: 504 upstream_first_byte_timeout; the backend sees the abort", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post(proxy.url, { model: "slow-start", messages: HI }, { "x-mock-hang": "headers" });
    const e = await jsonError(res);
    expect(e.status).toBe(504);
    expect(e.error).toMatchObject({ type: "timeout_error", code: "upstream_first_byte_timeout" });
    expect(await seen).toMatchObject({ aborted: true, status: 0 });
    expect(await proxy.accessLine(e.requestId)).toMatchObject({ status: 504, error_code: "upstream_first_byte_timeout", backend: "first-byte", completion_tokens: 0 });
  });

  test("a stream that never starts: 504 too, raised by the OpenAI client as an APIError", async () => {
    const seen = mock.backend.nextEnd();
    const err = await client.chat.completions.create({ model: "slow-start", messages: HI, stream: true }, { headers: { "x-mock-hang": "headers" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 504, code: "upstream_first_byte_timeout", type: "timeout_error" });
    expect((await seen).aborted).toBe(true);
  });
});

describe("idle timeout (x-mock-hang-after: N)", () => {
  test("a stream that stalls mid-answer ends with an error event the OpenAI client raises; the tokens streamed are counted", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "stalls", messages: HI, stream: true }, { headers: { "x-mock-hang-after": "3" } })
      .withResponse();
    expect(response.status).toBe(200);
    const { text, error } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(3));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_idle_timeout", type: "timeout_error" });
    const end = await seen;
    expect(end).toMatchObject({ aborted: true, completionTokensSent: 3 });
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, error_code: "upstream_idle_timeout", completion_tokens: 3, usage_source: "estimate", stream: true });
    expect(line.prompt_tokens).toBeGreaterThan(0);
  });

  test("the error event is OpenAI's error object, after the tokens, and ends the stream", async () => {
    const res = await post(proxy.url, { model: "stalls", messages: HI, stream: true }, { "x-mock-hang-after": "2" });
    const { text, error } = await readUntilFailure(res);
    expect(error).toBeNull();
    const events = sseData(text);
    expect(JSON.parse(events.at(-1)!)).toEqual({
      error: { message: expect.any(String), type: "timeout_error", param: null, code: "upstream_idle_timeout" },
    });
    expect(streamedText(events.slice(0, -1).map((d) => `data: ${d}\n\n`).join(""))).toBe(mockCompletionText(2));
    expect(text).not.toContain("[DONE]");
  });

  test("a stream that sent every token but never its end is cut too, all its tokens counted", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "stalls", messages: HI, stream: true }, { headers: { "x-mock-hang-after": "6" } })
      .withResponse();
    const { text, error } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(6));
    expect(error).toMatchObject({ code: "upstream_idle_timeout" });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ error_code: "upstream_idle_timeout", completion_tokens: 6 });
  });

  test("a /v1/responses stream that stalls ends with the Responses API's error event, raised by the client", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.responses
      .create({ model: "stalls", input: "hi", stream: true }, { headers: { "x-mock-hang-after": "2" } })
      .withResponse();
    let text = "";
    let error: unknown = null;
    try {
      for await (const ev of stream) if (ev.type === "response.output_text.delta") text += ev.delta;
    } catch (e) {
      error = e;
    }
    expect(text).toBe(mockCompletionText(2));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_idle_timeout" });
    expect((await seen).aborted).toBe(true);
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ error_code: "upstream_idle_timeout", completion_tokens: 2, usage_source: "estimate" });
  });

  test("a whole answer that stalls halfway fails for the client, logged as upstream_idle_timeout", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post(proxy.url, { model: "stalls", messages: HI }, { "x-mock-hang-after": "0", "x-request-id": "idle-whole-1" });
    const body = await readUntilFailure(res);
    // half a JSON document cannot pass for an answer: either the status or the body says it failed
    let parsed = true;
    try {
      JSON.parse(body.text);
    } catch {
      parsed = false;
    }
    expect(res.status !== 200 || body.error !== null || !parsed).toBe(true);
    expect((await seen).aborted).toBe(true);
    expect(await proxy.accessLine("idle-whole-1")).toMatchObject({ error_code: "upstream_idle_timeout" });
  });
});

describe("idle timeout and slow clients", () => {
  test("a client that stops reading for longer than the idle timeout is not the backend's silence: its stream completes", async () => {
    const TOKENS = 200_000; // tens of MB: far more than the socket buffers hold, so the proxy must wait for the client
    const res = await rawRequest(proxy.url, {
      path: "/v1/chat/completions",
      headers: [
        ["Content-Type", "application/json"],
        ["X-Mock-Tokens", String(TOKENS)],
        ["X-Request-Id", "slow-reader-1"],
      ],
      body: JSON.stringify({ model: "stalls", messages: HI, stream: true }),
      // stop reading until another request on the same backend has run into its idle
      // timeout: an event that comes at least one idle period later
      pauseAtFirstData: async () => {
        const other = await post(proxy.url, { model: "stalls", messages: HI, stream: true }, { "x-mock-hang-after": "0", "x-request-id": "slow-reader-witness" });
        await readUntilFailure(other);
        await proxy.accessLine("slow-reader-witness");
      },
    });
    const text = res.body.toString("utf8");
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(text).not.toContain("upstream_idle_timeout");
    expect(await proxy.accessLine("slow-reader-1")).toMatchObject({ status: 200, error_code: null, completion_tokens: TOKENS });
  }, 30_000);
});

describe("idle timeout on answers that stop before anything reached the client", () => {
  test("a sized JSON answer that stops partway: 504 upstream_idle_timeout, the backend's connection closed", async () => {
    const closed = stuck.nextClientClose();
    const res = await post(proxy.url, { model: "stuck", messages: HI }, { "x-script": "json-part" });
    const e = await jsonError(res);
    expect(e.status).toBe(504);
    expect(e.error).toMatchObject({ type: "timeout_error", code: "upstream_idle_timeout" });
    await closed;
    expect(await proxy.accessLine(e.requestId)).toMatchObject({ status: 504, error_code: "upstream_idle_timeout", backend: "stuck", completion_tokens: 0 });
  });

  test(
    "a refusal whose error body stops partway: 504 upstream_idle_timeout within the idle timeout, not held until the total timeout",
    async () => {
      const closed = stuck.nextClientClose();
      const res = await post(proxy.url, { model: "stuck", messages: HI }, { "x-script": "error-part" });
      const e = await jsonError(res);
      expect(e.status).toBe(504);
      expect(e.error).toMatchObject({ type: "timeout_error", code: "upstream_idle_timeout" });
      await closed;
    },
    20_000,
  );

  test("an event stream that sends its headers and then nothing: the client gets the idle timeout as an error event", async () => {
    const closed = stuck.nextClientClose();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "stuck", messages: HI, stream: true }, { headers: { "x-script": "sse-headers" } })
      .withResponse();
    const { text, error } = await drainChat(stream);
    expect(text).toBe("");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_idle_timeout", type: "timeout_error" });
    await closed;
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ error_code: "upstream_idle_timeout", completion_tokens: 0 });
  });
});

describe("a backend that sends its headers and then thinks", () => {
  test("the client gets the status line at once (Bun: one SSE comment carries it), then the stream's own end", async () => {
    const closed = stuck.nextClientClose();
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-script": "sse-headers" },
      body: JSON.stringify({ model: "stuck", messages: HI, stream: true }),
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    // Bun.serve sends no headers before a body byte: the gateway sends ":" (an SSE
    // comment every parser skips) when nothing came within 50 ms. node:http sends
    // them by itself, and nothing is added.
    const events = body.split("\n\n").filter((e) => e !== "");
    expect(events.slice(0, -1)).toEqual(underNode() ? [] : [":"]);
    expect(JSON.parse(sseData(events.at(-1)! + "\n\n")[0]!)).toMatchObject({ error: { code: "upstream_idle_timeout" } });
    await closed;
  });
});

describe("total timeout (timeouts.total)", () => {
  test("before the first byte: 504 upstream_total_timeout; the backend sees the abort", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post(totalProxy.url, { model: "long", messages: HI }, { "x-mock-hang": "headers" });
    const e = await jsonError(res);
    expect(e.status).toBe(504);
    expect(e.error).toMatchObject({ type: "timeout_error", code: "upstream_total_timeout" });
    expect((await seen).aborted).toBe(true);
    expect(await totalProxy.accessLine(e.requestId)).toMatchObject({ status: 504, error_code: "upstream_total_timeout" });
  });

  test("mid-stream: an error event the OpenAI client raises; the tokens the client got are the tokens counted", async () => {
    const seen = mock.backend.nextEnd();
    // a stream far longer than the total allows, its tokens flowing all the time (idle never fires)
    const { data: stream, response } = await totalClient.chat.completions
      .create({ model: "long", messages: HI, stream: true }, { headers: { "x-mock-tokens": "1000000", "x-mock-delay-ms": "5" } })
      .withResponse();
    const { text, error } = await drainChat(stream);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "upstream_total_timeout", type: "timeout_error" });
    const got = text === "" ? 0 : text.split(" ").length;
    expect(text).toBe(mockCompletionText(got));
    const end = await seen;
    expect(end.aborted).toBe(true);
    const line = await totalProxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, error_code: "upstream_total_timeout", completion_tokens: got, usage_source: "estimate" });
  });
});

describe("connect timeout (a port that never accepts)", () => {
  test("a whole answer: 504 upstream_connect_timeout", async () => {
    const res = await post(proxy.url, { model: "unconnectable", messages: HI });
    const e = await jsonError(res);
    expect(e.status).toBe(504);
    expect(e.error).toMatchObject({ type: "timeout_error", code: "upstream_connect_timeout" });
    expect(await proxy.accessLine(e.requestId)).toMatchObject({ status: 504, error_code: "upstream_connect_timeout", backend: "blackhole" });
  });

  test("a stream: 504 too, raised by the OpenAI client", async () => {
    const err = await client.chat.completions.create({ model: "unconnectable", messages: HI, stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 504, code: "upstream_connect_timeout", type: "timeout_error" });
  });
});
