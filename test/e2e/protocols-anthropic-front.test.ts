// Issue 9, point 2: the Anthropic front door, POST /v1/messages, driven by the official
// Anthropic SDK through the real daemon (with virtual keys, as a deployment runs it):
// (a) translated for an OpenAI-compatible backend (the vLLM case: the fake LLM's chat
//     completions, and a small vLLM-like server of the test's own for a Claude-Code-like
//     tool loop that ends once the tool's result came back);
// (b) passed through to an Anthropic backend (the fake LLM's /v1/messages), whose
//     request records show the headers and body that arrived.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { sseAnswer, startRecordingBackend, type RecordedRequest, type RecordingBackend } from "../helpers/recording-backend.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { ANTHROPIC_WEATHER_TOOL as WEATHER_TOOL, expectCountNotLogged, expectStreamedWeatherToolUse, expectWeatherToolUse, failure } from "../helpers/client-fixtures.ts";
import { adminCreateKey, type CreatedKey } from "../helpers/admin.ts";

type AnthropicApiError = InstanceType<typeof Anthropic.APIError>;

const TOKENS = 6;
const ADMIN = "admin-token-for-protocols";
const VLLM_KEY = "vllm-backend-key-1";
const ANTHROPIC_KEY = "sk-ant-backend-key-2";

let mock: MockServer;
let agent: RecordingBackend;
let proxy: ProxyProcess;
let keyId: string;
let keySecret: string;
let client: Anthropic;
// made at load time: tempDir registers the afterAll that removes it, which a hook cannot do
const dir = tempDir("protocols-anthropic-front");

const HAIKU = [{ role: "user" as const, content: "write a haiku about proxies" }];
const SYSTEM = "you are a poet";

type Json = Record<string, unknown>;

/**
 * A vLLM-like OpenAI backend for the tool loop: a call of the first tool while no tool
 * result came back, then a text quoting the result. Streams are written as vLLM writes
 * them: a first chunk with the role and an empty content, the call's id and name, its
 * arguments in two fragments, the finish chunk, the usage chunk, [DONE].
 */
function vllmAnswer(req: RecordedRequest): Response {
  const body = req.json();
  const messages = body.messages as { role: string; content: string }[];
  const last = messages.at(-1)!;
  const chunk = (choices: unknown[], usage?: unknown) =>
    `data: ${JSON.stringify({ id: "chatcmpl-agent", object: "chat.completion.chunk", created: 1, model: body.model, choices, ...(usage ? { usage } : {}) })}`;
  const usage = { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 };
  if (last.role === "tool") {
    const text = `The tool said: ${last.content}`;
    if (!body.stream) {
      return Response.json({ id: "chatcmpl-agent", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage });
    }
    return sseAnswer([
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: text.slice(0, 8) }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: text.slice(8) }, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
      chunk([], usage),
      "data: [DONE]",
    ]);
  }
  const tool = (body.tools as { function: { name: string } }[])[0]!.function.name;
  if (req.headers.get("x-test-scenario") === "think-say-call") {
    // a reasoning model (vLLM's reasoning_content) that thinks, says a sentence, then calls a tool
    const call = { id: "chatcmpl-tool-2", type: "function", function: { name: tool, arguments: '{"location":"Oslo"}' } };
    if (!body.stream) {
      const message = { role: "assistant", reasoning_content: "The user wants Oslo.", content: "Checking Oslo.", tool_calls: [call] };
      return Response.json({ id: "chatcmpl-agent", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message, finish_reason: "tool_calls" }], usage });
    }
    return sseAnswer([
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
      chunk([{ index: 0, delta: { reasoning_content: "The user " }, finish_reason: null }]),
      chunk([{ index: 0, delta: { reasoning_content: "wants Oslo." }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: "Checking " }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: "Oslo." }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, ...call }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, finish_reason: "tool_calls" }]),
      chunk([], usage),
      "data: [DONE]",
    ]);
  }
  return sseAnswer([
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: "chatcmpl-tool-1", type: "function", function: { name: tool } }] }, finish_reason: null }]),
    chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }, finish_reason: null }]),
    chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ' "Paris"}' } }] }, finish_reason: null }]),
    chunk([{ index: 0, delta: {}, finish_reason: "tool_calls" }]),
    chunk([], usage),
    "data: [DONE]",
  ]);
}

function createKey(body: Json): Promise<CreatedKey> {
  return adminCreateKey(proxy.url, ADMIN, body);
}

/** The error a promise rejects with (null when it resolves). */
beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  agent = await startRecordingBackend(vllmAnswer);
  proxy = await startProxy({
    dir,
    config: `
auth: keys
database: keys.db
admin_token: ${ADMIN}
x-quiet: &quiet { interval: 0s }
backends:
  - { name: vllm, provider: openai, url: ${mock.url}, api_key: ${VLLM_KEY}, health: *quiet }
  # the error tests' own backend: its refusals must not eject the one above
  - { name: vllm-errors, provider: openai, url: ${mock.url}, health: *quiet, circuit: { failures: 1000 } }
  - { name: vllm-agent, provider: openai, url: ${agent.url}, health: *quiet }
  - { name: vllm-stalling, provider: openai, url: ${mock.url}, health: *quiet, circuit: { failures: 1000 }, timeouts: { idle: 300ms } }
  - { name: claude, provider: anthropic, url: ${mock.url}, api_key: ${ANTHROPIC_KEY}, health: *quiet, circuit: { failures: 1000 } }
models:
  - { name: qwen, targets: [{ backend: vllm, model: Qwen/Qwen3-8B }] }
  - { name: qwen-errors, targets: [{ backend: vllm-errors }] }
  - { name: qwen-agent, targets: [{ backend: vllm-agent, model: Qwen/Qwen3-Coder }] }
  - { name: limited, targets: [{ backend: vllm }] }
  - { name: qwen-stalling, targets: [{ backend: vllm-stalling }] }
  - { name: claude-sonnet, targets: [{ backend: claude, model: claude-sonnet-4-5-20250929 }] }
limits:
  models:
    limited: { rpm: 1 }
retries: { attempts: 0 }
`,
  });
  ({ id: keyId, secret: keySecret } = await createKey({ name: "anthropic-sdk" }));
  client = new Anthropic({ apiKey: keySecret, baseURL: proxy.url, maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await agent.stop();
});

describe("(a) the Anthropic SDK in front of an OpenAI-compatible backend", () => {
  test("messages.create: the backend's exact text as a text block, end_turn, the client's model name and usage from the backend's counts", async () => {
    const seen = mock.backend.nextEnd();
    const { data: msg, response } = await client.messages.create({ model: "qwen", max_tokens: 100, system: SYSTEM, messages: HAIKU }).withResponse();
    const end = await seen;
    expect(msg.id).toStartWith("msg_");
    expect(msg.type).toBe("message");
    expect(msg.role).toBe("assistant");
    expect(msg.model).toBe("qwen");
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.stop_sequence).toBeNull();
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, output_tokens: TOKENS, cache_read_input_tokens: 0 });
    // the backend got a chat completion: the system prompt first, the route's model name
    expect(end.path).toBe("/v1/chat/completions");
    const sent = JSON.parse(end.body) as Json;
    expect(sent).toEqual({
      model: "Qwen/Qwen3-8B",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "write a haiku about proxies" },
      ],
      max_tokens: 100,
    });
    expect(end.promptTokens).toBe(countPromptTokens("chat", sent));
    // its own key, never the client's
    expect(end.headers.get("authorization")).toBe(`Bearer ${VLLM_KEY}`);
    expect([...end.headers.values()].join("\n")).not.toContain(keySecret);
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ endpoint: "/v1/messages", key_id: keyId, status: 200, backend: "vllm", upstream_model: "Qwen/Qwen3-8B", prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend", stream: false });
  });

  test("messages.stream().finalMessage(): the text event by event, end_turn, and the usage the SDK took from message_delta", async () => {
    const seen = mock.backend.nextEnd();
    const stream = client.messages.stream({ model: "qwen", max_tokens: 100, system: SYSTEM, messages: HAIKU });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const final = await stream.finalMessage();
    const end = await seen;
    expect(deltas.join("")).toBe(mockCompletionText(TOKENS));
    expect(deltas).toHaveLength(TOKENS);
    expect(final.model).toBe("qwen");
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage).toMatchObject({ input_tokens: end.promptTokens, output_tokens: TOKENS });
    // the gateway asks the backend for the usage an Anthropic stream ends with
    expect(JSON.parse(end.body)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const line = await proxy.accessLine((await stream.withResponse()).response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ endpoint: "/v1/messages", status: 200, stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("a tool call: a tool_use block with its input as an object and stop_reason tool_use, whole and streamed; the tool reaches the backend in OpenAI's form", async () => {
    const seen = mock.backend.nextEnd();
    const msg = await client.messages.create({ model: "qwen", max_tokens: 100, messages: HAIKU, tools: [WEATHER_TOOL], tool_choice: { type: "any" } });
    const sent = JSON.parse((await seen).body) as Json;
    expect(sent.tools).toEqual([{ type: "function", function: { name: "get_weather", description: "Weather at a place", parameters: WEATHER_TOOL.input_schema } }]);
    expect(sent.tool_choice).toBe("required");
    expectWeatherToolUse(msg, TOKENS);
    await expectStreamedWeatherToolUse(client.messages.stream({ model: "qwen", max_tokens: 100, messages: HAIKU, tools: [WEATHER_TOOL] }), TOKENS);
  });

  test("max_tokens below the answer's length: stop_reason max_tokens, whole and streamed", async () => {
    const msg = await client.messages.create({ model: "qwen", max_tokens: 3, messages: HAIKU });
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(3) }]);
    expect(msg.usage.output_tokens).toBe(3);
    const final = await client.messages.stream({ model: "qwen", max_tokens: 2, messages: HAIKU }).finalMessage();
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(2) }]);
  });

  test("the backend's cached prompt tokens: input_tokens excludes them, cache_read_input_tokens says them, the log counts them in the prompt", async () => {
    const seen = mock.backend.nextEnd();
    const { data: msg, response } = await client.messages.create({ model: "qwen", max_tokens: 100, messages: HAIKU }, { headers: { "x-mock-cache-read": "50" } }).withResponse();
    const end = await seen;
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, cache_read_input_tokens: 50, output_tokens: TOKENS });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ prompt_tokens: end.promptTokens + 50, cached_tokens: 50, cache_write_tokens: 0 });
  });

  test("a Claude-Code-like tool loop, streamed: tool_use, the tool's result sent back as tool_result, the answer with end_turn", async () => {
    const before = agent.requests.length;
    const conversation: Anthropic.MessageParam[] = [{ role: "user", content: "What is the weather in Paris?" }];
    const first = await client.messages.stream({ model: "qwen-agent", max_tokens: 1024, messages: conversation, tools: [WEATHER_TOOL] }).finalMessage();
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toEqual([{ type: "tool_use", id: "chatcmpl-tool-1", name: "get_weather", input: { location: "Paris" } }] as never);
    conversation.push({ role: "assistant", content: first.content });
    conversation.push({ role: "user", content: [{ type: "tool_result", tool_use_id: "chatcmpl-tool-1", content: "18 degrees and sunny" }] });
    const second = client.messages.stream({ model: "qwen-agent", max_tokens: 1024, messages: conversation, tools: [WEATHER_TOOL] });
    const answer = await second.finalMessage();
    expect(answer.stop_reason).toBe("end_turn");
    expect(answer.content as unknown).toEqual([{ type: "text", text: "The tool said: 18 degrees and sunny" }]);
    expect(answer.usage).toMatchObject({ input_tokens: 21, output_tokens: 9 });
    const turns = agent.requests.slice(before).map((r) => r.json());
    expect(turns).toHaveLength(2);
    expect(turns[1]!.model).toBe("Qwen/Qwen3-Coder");
    expect(turns[1]!.messages).toEqual([
      { role: "user", content: "What is the weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "chatcmpl-tool-1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
      { role: "tool", tool_call_id: "chatcmpl-tool-1", content: "18 degrees and sunny" },
    ]);
  });

  test("a reasoning model that thinks, says something, then calls a tool: thinking, text and tool_use blocks in that order, whole and streamed", async () => {
    const scenario = { headers: { "x-test-scenario": "think-say-call" } };
    const want = [
      { type: "thinking", thinking: "The user wants Oslo.", signature: "" },
      { type: "text", text: "Checking Oslo." },
      { type: "tool_use", id: "chatcmpl-tool-2", name: "get_weather", input: { location: "Oslo" } },
    ];
    const whole = await client.messages.create({ model: "qwen-agent", max_tokens: 1024, messages: HAIKU, tools: [WEATHER_TOOL] }, scenario);
    expect(whole.content as unknown).toEqual(want);
    expect(whole.stop_reason).toBe("tool_use");
    const stream = client.messages.stream({ model: "qwen-agent", max_tokens: 1024, messages: HAIKU, tools: [WEATHER_TOOL] }, scenario);
    const thinking: string[] = [];
    stream.on("thinking", (delta) => thinking.push(delta));
    const final = await stream.finalMessage();
    expect(thinking.join("")).toBe("The user wants Oslo.");
    expect(final.content.map((b) => (b.type === "text" ? { type: b.type, text: b.text } : b)) as unknown).toEqual(want);
    expect(final.stop_reason).toBe("tool_use");
  });

  test("an image block (base64) reaches the backend as an image_url data: URL part", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
    const seen = mock.backend.nextEnd();
    await client.messages.create({
      model: "qwen",
      max_tokens: 50,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          ],
        },
      ],
    });
    expect((JSON.parse((await seen).body) as Json).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
        ],
      },
    ]);
  });

  test("what an OpenAI-compatible backend cannot run (a server tool) is a 400 invalid_request naming tools, in Anthropic's shape", async () => {
    const before = mock.backend.stats.requests;
    const err = await failure(
      client.messages.create({ model: "qwen", max_tokens: 100, messages: HAIKU, tools: [{ type: "web_search_20250305", name: "web_search" }] as unknown as Anthropic.Tool[] }),
    );
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as AnthropicApiError;
    expect(e.status).toBe(400);
    expect(e.type).toBe("invalid_request_error");
    expect(e.errorCode).toBe("invalid_request");
    expect(e.apiMessage).toContain("server tool");
    expect(mock.backend.stats.requests).toBe(before);
  });
});

describe("(a) errors the Anthropic SDK raises", () => {
  test("no key (auth: keys): AuthenticationError, details.error_code missing_api_key", async () => {
    const anonymous = new Anthropic({ apiKey: "unused", baseURL: proxy.url, maxRetries: 0 });
    const err = await failure(anonymous.messages.create({ model: "qwen", max_tokens: 10, messages: HAIKU }, { headers: { "x-api-key": null, authorization: null } }));
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    const e = err as AnthropicApiError;
    expect(e.status).toBe(401);
    expect(e.type).toBe("authentication_error");
    expect(e.errorCode).toBe("missing_api_key");
  });

  test("an unknown key: AuthenticationError, details.error_code invalid_api_key", async () => {
    const stranger = new Anthropic({ apiKey: "sk-llmp-notarealkeynotarealkeynotarealkey", baseURL: proxy.url, maxRetries: 0 });
    const err = await failure(stranger.messages.create({ model: "qwen", max_tokens: 10, messages: HAIKU }));
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as AnthropicApiError).errorCode).toBe("invalid_api_key");
  });

  test("an unknown model: NotFoundError, type not_found_error, details.error_code model_not_found", async () => {
    const err = await failure(client.messages.create({ model: "claude-9-opus", max_tokens: 10, messages: HAIKU }));
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const e = err as AnthropicApiError;
    expect(e.status).toBe(404);
    expect(e.type).toBe("not_found_error");
    expect(e.errorCode).toBe("model_not_found");
  });

  test("the model's rate limit (rpm: 1): the second request is a RateLimitError with details.error_code rate_limit_exceeded and a Retry-After", async () => {
    await client.messages.create({ model: "limited", max_tokens: 10, messages: HAIKU });
    const err = await failure(client.messages.create({ model: "limited", max_tokens: 10, messages: HAIKU }));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as AnthropicApiError;
    expect(e.status).toBe(429);
    expect(e.type).toBe("rate_limit_error");
    expect(e.errorCode).toBe("rate_limit_exceeded");
    expect(Number(e.headers!.get("retry-after"))).toBeGreaterThan(0);
  });

  const backendCases = [
    { status: 400, cls: Anthropic.BadRequestError, type: "invalid_request_error" },
    { status: 401, cls: Anthropic.AuthenticationError, type: "authentication_error" },
    { status: 429, cls: Anthropic.RateLimitError, type: "rate_limit_error" },
    { status: 500, cls: Anthropic.InternalServerError, type: "api_error" },
    { status: 503, cls: Anthropic.InternalServerError, type: "overloaded_error" },
  ];
  for (const c of backendCases) {
    test(`a backend ${c.status} is raised as ${c.cls.name} of type ${c.type}, with the backend's message`, async () => {
      const err = await failure(client.messages.create({ model: "qwen-errors", max_tokens: 10, messages: HAIKU }, { headers: { "x-mock-status": String(c.status), "x-mock-retry-after": "0" } }));
      expect(err).toBeInstanceOf(c.cls);
      const e = err as AnthropicApiError;
      expect(e.status).toBe(c.status);
      expect(e.type).toBe(c.type as never);
      expect(e.apiMessage).toContain("mock error");
      expect(e.errorCode).not.toBeNull();
      expect(await proxy.accessLine(e.headers!.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/messages", status: c.status, error_code: `upstream_http_${c.status}` });
    });
  }

  test("an error in the middle of the backend's stream is raised by the SDK's stream, after the text that came before it", async () => {
    const stream = client.messages.stream({ model: "qwen-errors", max_tokens: 100, messages: HAIKU }, { headers: { "x-mock-error-after": "3", "x-request-id": "front-stream-error-1" } });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const err = await failure(stream.finalMessage());
    expect(deltas.join("")).toBe(mockCompletionText(3));
    // the backend's OpenAI error event, as Anthropic's `error` event: the SDK raises it with the backend's message
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as AnthropicApiError;
    expect(e.type).toBe("api_error");
    expect(e.apiMessage).toBe("The server is overloaded. Please try again later.");
    expect(await proxy.accessLine("front-stream-error-1")).toMatchObject({ status: 200, error_code: "upstream_stream_error" });
  });
  test("a backend that stalls mid-stream: the gateway's idle timeout reaches the SDK as Anthropic's error event (timeout_error, upstream_idle_timeout)", async () => {
    const stream = client.messages.stream({ model: "qwen-stalling", max_tokens: 100, messages: HAIKU }, { headers: { "x-mock-hang-after": "2" } });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const err = await failure(stream.finalMessage());
    expect(deltas.join("")).toBe(mockCompletionText(2));
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as AnthropicApiError).type).toBe("timeout_error");
    expect((err as AnthropicApiError).errorCode).toBe("upstream_idle_timeout");
    const { response } = await stream.withResponse();
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/messages", status: 200, error_code: "upstream_idle_timeout" });
  });
});

describe("(b) the Anthropic SDK in front of an Anthropic backend: passthrough", () => {
  test("messages.create: the request arrives as the SDK sent it but for the model name, the answer as the backend sent it", async () => {
    const seen = mock.backend.nextEnd();
    const msg = await client.messages.create({ model: "claude-sonnet", max_tokens: 100, system: SYSTEM, messages: HAIKU, stop_sequences: ["END"] });
    const end = await seen;
    expect(end.path).toBe("/v1/messages");
    expect(JSON.parse(end.body)).toEqual({ model: "claude-sonnet-4-5-20250929", max_tokens: 100, system: SYSTEM, messages: HAIKU, stop_sequences: ["END"] });
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, output_tokens: TOKENS, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  test("the client's anthropic-version and anthropic-beta reach the backend; its x-api-key is the configured api_key, never the client's key", async () => {
    const seen = mock.backend.nextEnd();
    await client.messages.create(
      { model: "claude-sonnet", max_tokens: 10, messages: HAIKU },
      { headers: { "anthropic-beta": "prompt-caching-2024-07-31,token-efficient-tools-2025-02-19", "anthropic-version": "2023-06-01" } },
    );
    const end = await seen;
    expect(end.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(end.headers.get("anthropic-beta")).toBe("prompt-caching-2024-07-31,token-efficient-tools-2025-02-19");
    expect(end.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(end.headers.get("authorization")).toBeNull();
    expect([...end.headers.values()].join("\n")).not.toContain(keySecret);
  });

  test("usage with cache reads and writes is recorded: prompt = input + read + write, cached_tokens = read, cache_write_tokens = write; whole and streamed", async () => {
    const cache = { "x-mock-cache-read": "20", "x-mock-cache-write": "12" };
    const seen = mock.backend.nextEnd();
    const { data: msg, response } = await client.messages.create({ model: "claude-sonnet", max_tokens: 100, messages: HAIKU }, { headers: cache }).withResponse();
    const end = await seen;
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, cache_read_input_tokens: 20, cache_creation_input_tokens: 12, output_tokens: TOKENS });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({
      endpoint: "/v1/messages",
      key_id: keyId,
      backend: "claude",
      prompt_tokens: end.promptTokens + 32,
      completion_tokens: TOKENS,
      cached_tokens: 20,
      cache_write_tokens: 12,
      usage_source: "backend",
    });

    const streamSeen = mock.backend.nextEnd();
    const stream = client.messages.stream({ model: "claude-sonnet", max_tokens: 100, messages: HAIKU }, { headers: cache });
    const final = await stream.finalMessage();
    const streamEnd = await streamSeen;
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(final.usage).toMatchObject({ input_tokens: streamEnd.promptTokens, cache_read_input_tokens: 20, cache_creation_input_tokens: 12, output_tokens: TOKENS });
    const { response: streamResponse } = await stream.withResponse();
    expect(await proxy.accessLine(streamResponse.headers.get("x-request-id")!)).toMatchObject({
      stream: true,
      prompt_tokens: streamEnd.promptTokens + 32,
      completion_tokens: TOKENS,
      cached_tokens: 20,
      cache_write_tokens: 12,
      usage_source: "backend",
    });
  });

  test("a backend's 529 reaches the SDK as Anthropic sent it: status 529, overloaded_error", async () => {
    const err = await failure(client.messages.create({ model: "claude-sonnet", max_tokens: 10, messages: HAIKU }, { headers: { "x-mock-status": "529" } }));
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    const e = err as AnthropicApiError;
    expect(e.status).toBe(529);
    expect(e.type).toBe("overloaded_error");
  });

  test("an error event in the middle of the backend's stream reaches the SDK, which raises it", async () => {
    const stream = client.messages.stream({ model: "claude-sonnet", max_tokens: 100, messages: HAIKU }, { headers: { "x-mock-error-after": "2", "x-request-id": "front-stream-error-2" } });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const err = await failure(stream.finalMessage());
    expect(deltas.join("")).toBe(mockCompletionText(2));
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as AnthropicApiError).type).toBe("overloaded_error");
    expect((err as AnthropicApiError).apiMessage).toBe("Overloaded");
    // passed through as sent (Anthropic to Anthropic), and recorded as the backend's failure
    expect(await proxy.accessLine("front-stream-error-2")).toMatchObject({ status: 200, error_code: "upstream_stream_error" });
  });
});

describe("POST /v1/messages/count_tokens", () => {
  const request = { model: "qwen", system: SYSTEM, messages: HAIKU };

  test("a route without an Anthropic backend: the gateway's own estimate, the same the metering would make", async () => {
    const { estimatePromptTokens } = await import("../../src/metering/estimate.ts");
    const counted = await client.messages.countTokens(request);
    expect(counted.input_tokens).toBe(await estimatePromptTokens(request));
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  test("a route with an Anthropic backend: its own count, asked under the upstream model name with its key", async () => {
    const body = { model: "claude-sonnet-4-5-20250929", system: SYSTEM, messages: HAIKU };
    const direct = (await (await fetch(`${mock.url}/v1/messages/count_tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as {
      input_tokens: number;
    };
    const counted = await client.messages.countTokens({ ...request, model: "claude-sonnet" });
    expect(counted).toEqual({ input_tokens: direct.input_tokens });
  });

  test("no usage record and no access-log line: counting is not inference", async () => {
    await expectCountNotLogged(proxy, client, request, "qwen");
  });

  test("errors in Anthropic's shape: no key 401, unknown model 404, no messages 400", async () => {
    const anonymous = new Anthropic({ apiKey: "", baseURL: proxy.url, maxRetries: 0, defaultHeaders: { "x-api-key": null } });
    expect(await failure(anonymous.messages.countTokens(request))).toBeInstanceOf(Anthropic.AuthenticationError);
    const unknown = await failure(client.messages.countTokens({ ...request, model: "nope" }));
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "not_found_error", details: { error_code: "model_not_found" } } });
    const res = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "x-api-key": keySecret, "content-type": "application/json" },
      body: JSON.stringify({ model: "qwen" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", details: { error_code: "invalid_request" } } });
  });
});
