// Issue 9, point 3: the official OpenAI client in front of a `provider: gemini` backend,
// through the real daemon. The backend is the fake LLM speaking Gemini's
// generateContent / streamGenerateContent?alt=sse (it refuses a stream asked without
// alt=sse, so every streamed answer here also proves the query); its request records
// show what the gateway sent. With LLMPROXY_BIN set, this runs against the binary.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { startGeminiProxy } from "../helpers/gemini-proxy.ts";
import type { ProxyProcess } from "../helpers/proxy.ts";
import { WEATHER_TOOL, failure } from "../helpers/client-fixtures.ts";

type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;

const TOKENS = 7;
const GOOGLE_KEY = "AIza-backend-key-for-tests";
const CLIENT_KEY = "client-key-must-not-leak";

let mock: MockServer;
let proxy: ProxyProcess;
let client: OpenAI;

const HELLO = [{ role: "user" as const, content: "Hello there" }];

type Json = Record<string, unknown>;

beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  proxy = await startGeminiProxy(mock.url, GOOGLE_KEY, "gemini-flash");
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
});

describe("whole answers", () => {
  test("a plain chat: generateContent on the upstream model, the exact text, finish_reason stop, usage from usageMetadata", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO }).withResponse();
    const end = await seen;
    expect(end.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(JSON.parse(end.body)).toEqual({ contents: [{ role: "user", parts: [{ text: "Hello there" }] }] });
    expect(res.object).toBe("chat.completion");
    expect(res.id).toBe(`chatcmpl-${end.id}`);
    expect(res.model).toBe("gemini-flash");
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage).toEqual({
      prompt_tokens: end.promptTokens,
      completion_tokens: TOKENS,
      total_tokens: end.promptTokens + TOKENS,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, backend: "gemini", upstream_model: "gemini-2.5-flash", prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend", stream: false });
  });

  test("the gateway sends the backend's key as x-goog-api-key; the client's key goes nowhere", async () => {
    const seen = mock.backend.nextEnd();
    await client.chat.completions.create({ model: "gemini-flash", messages: HELLO });
    const end = await seen;
    expect(end.headers.get("x-goog-api-key")).toBe(GOOGLE_KEY);
    expect(end.headers.get("authorization")).toBeNull();
    expect([...end.headers.values()].join("\n")).not.toContain(CLIENT_KEY);
  });

  test("system messages become systemInstruction, assistant turns role model, and the parameters generationConfig", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({
      model: "gemini-flash",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "What is two plus two?" },
        { role: "assistant", content: "Four." },
        { role: "user", content: "And three plus three?" },
      ],
      temperature: 0.3,
      top_p: 0.8,
      max_tokens: 50,
      stop: ["END"],
      seed: 7,
    });
    const sent = JSON.parse((await seen).body) as Json;
    expect(sent).toEqual({
      contents: [
        { role: "user", parts: [{ text: "What is two plus two?" }] },
        { role: "model", parts: [{ text: "Four." }] },
        { role: "user", parts: [{ text: "And three plus three?" }] },
      ],
      systemInstruction: { parts: [{ text: "You are terse." }] },
      generationConfig: { temperature: 0.3, topP: 0.8, maxOutputTokens: 50, stopSequences: ["END"], seed: 7 },
    });
    expect(res.usage!.prompt_tokens).toBe(countPromptTokens("gemini", sent));
  });

  test("an image as a data: URL goes inline (inlineData)", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
    const seen = mock.backend.nextEnd();
    await client.chat.completions.create({
      model: "gemini-flash",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
      ],
    });
    expect((JSON.parse((await seen).body) as Json).contents).toEqual([{ role: "user", parts: [{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: png } }] }]);
  });

  test("cached prompt tokens and thinking tokens: cached_tokens from cachedContentTokenCount, thoughts counted as completion and reasoning tokens", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.chat.completions
      .create({ model: "gemini-flash", messages: HELLO }, { headers: { "x-mock-cache-read": "30", "x-mock-thinking": "5" } })
      .withResponse();
    const end = await seen;
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.usage).toEqual({
      prompt_tokens: end.promptTokens + 30,
      completion_tokens: TOKENS + 5,
      total_tokens: end.promptTokens + 30 + TOKENS + 5,
      prompt_tokens_details: { cached_tokens: 30 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ prompt_tokens: end.promptTokens + 30, completion_tokens: TOKENS + 5, cached_tokens: 30, cache_write_tokens: 0 });
  });

  test("max_tokens below the answer's length: maxOutputTokens, the text cut there and finish_reason length", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO, max_completion_tokens: 3 });
    expect((JSON.parse((await seen).body) as { generationConfig: Json }).generationConfig).toEqual({ maxOutputTokens: 3 });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(3));
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.usage!.completion_tokens).toBe(3);
  });
});

describe("streams", () => {
  test("a stream with include_usage: streamGenerateContent?alt=sse, the exact text token by token, finish_reason stop, then the usage chunk", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "gemini-flash", messages: HELLO, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const deltas: string[] = [];
    const finishes: string[] = [];
    const usages: OpenAI.CompletionUsage[] = [];
    let lastChoices = -1;
    for await (const chunk of stream) {
      expect(chunk.model).toBe("gemini-flash");
      const c = chunk.choices[0];
      if (c?.delta.content) deltas.push(c.delta.content);
      if (c?.finish_reason) finishes.push(c.finish_reason);
      if (chunk.usage) usages.push(chunk.usage);
      lastChoices = chunk.choices.length;
    }
    const end = await seen;
    expect(end.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    expect(end.status).toBe(200);
    expect(deltas.join("")).toBe(mockCompletionText(TOKENS));
    expect(deltas).toHaveLength(TOKENS);
    expect(finishes).toEqual(["stop"]);
    expect(usages).toHaveLength(1);
    expect(usages[0]).toMatchObject({ prompt_tokens: end.promptTokens, completion_tokens: TOKENS, total_tokens: end.promptTokens + TOKENS });
    expect(lastChoices).toBe(0);
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("a stream without include_usage has no usage chunk, and the log has the backend's exact counts", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) {
      expect(chunk.usage ?? null).toBeNull();
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const end = await seen;
    expect(text).toBe(mockCompletionText(TOKENS));
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("max_tokens on a stream: finish_reason length", async () => {
    const stream = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO, max_tokens: 2, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(mockCompletionText(2));
    expect(finish).toBe("length");
  });
});

describe("tools", () => {
  test("a function call in a whole answer: a tool call with a stable id, exact name and arguments, finish_reason tool_calls; tools sent as functionDeclarations", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO, tools: [WEATHER_TOOL], tool_choice: "required" });
    const end = await seen;
    const sent = JSON.parse(end.body) as { tools: { functionDeclarations: Json[] }[]; toolConfig: Json };
    expect(sent.tools).toHaveLength(1);
    expect(sent.tools[0]!.functionDeclarations).toHaveLength(1);
    expect(sent.tools[0]!.functionDeclarations[0]).toMatchObject({ name: "get_weather", description: "Weather at a place" });
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY" } });
    const msg = res.choices[0]!.message;
    expect(msg.content).toBeNull();
    expect(msg.tool_calls).toHaveLength(1);
    const call = msg.tool_calls![0]!;
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.id).toBe(`call_0_r${end.id}`);
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: mockCompletionText(TOKENS) });
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    expect(res.usage!.completion_tokens).toBe(TOKENS);
  });

  test("a streamed function call, assembled from the deltas and by the SDK's stream helper", async () => {
    const seen = mock.backend.nextEnd();
    const { data: raw, response } = await client.chat.completions.create({ model: "gemini-flash", messages: HELLO, tools: [WEATHER_TOOL], stream: true }).withResponse();
    let id = "";
    let name = "";
    let args = "";
    let finish: string | null = null;
    for await (const chunk of raw) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        expect(call.index).toBe(0);
        id += call.id ?? "";
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    const end = await seen;
    expect(id).toBe(`call_0_r${end.id}`);
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ location: mockCompletionText(TOKENS) });
    expect(finish).toBe("tool_calls");
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, completion_tokens: TOKENS, usage_source: "backend" });

    const final = await client.chat.completions.stream({ model: "gemini-flash", messages: HELLO, tools: [WEATHER_TOOL] }).finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: mockCompletionText(TOKENS) });
  });

  test("the second turn: the call goes back as a functionCall of the model, the tool's result as a functionResponse named after the call", async () => {
    const first = await client.chat.completions.create({ model: "gemini-flash", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER_TOOL] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    if (call.type !== "function") throw new Error("not a function call");
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({
      model: "gemini-flash",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        first.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: "tool", tool_call_id: call.id, content: "18 degrees and sunny" },
      ],
      tools: [WEATHER_TOOL],
      // the fake model calls a tool whenever it may: here it must answer
      tool_choice: "none",
    });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.choices[0]!.finish_reason).toBe("stop");
    const sent = JSON.parse((await seen).body) as { contents: { role: string; parts: Json[] }[]; toolConfig: Json };
    expect(sent.contents).toHaveLength(3);
    expect(sent.contents[0]).toEqual({ role: "user", parts: [{ text: "Weather in Paris?" }] });
    expect(sent.contents[1]!.role).toBe("model");
    expect(sent.contents[1]!.parts).toHaveLength(1);
    expect(sent.contents[1]!.parts[0]!.functionCall).toEqual({ name: "get_weather", args: JSON.parse(call.function.arguments) });
    expect(sent.contents[2]).toEqual({ role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "18 degrees and sunny" } } }] });
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "NONE" } });
  });
});

describe("errors", () => {
  const cases = [
    { status: 400, cls: OpenAI.BadRequestError, type: "invalid_request_error", code: "invalid_argument" },
    { status: 403, cls: OpenAI.PermissionDeniedError, type: "permission_error", code: "permission_denied" },
    { status: 429, cls: OpenAI.RateLimitError, type: "rate_limit_error", code: "rate_limit_exceeded" },
    { status: 503, cls: OpenAI.InternalServerError, type: "server_error", code: "unavailable" },
  ];
  for (const c of cases) {
    test(`a backend ${c.status} (google.rpc.Status) is raised by the SDK as ${c.cls.name} with an OpenAI-shaped error (type ${c.type}, code ${c.code})`, async () => {
      const err = await failure(client.chat.completions.create({ model: "gemini-errors", messages: HELLO }, { headers: { "x-mock-status": String(c.status), "x-mock-retry-after": "0" } }));
      expect(err).toBeInstanceOf(c.cls);
      const e = err as OpenAIApiError;
      expect(e.status).toBe(c.status);
      expect(e.type).toBe(c.type);
      expect(e.code).toBe(c.code);
      expect((e.error as { message: string }).message).toContain("mock error");
      expect(await proxy.accessLine(e.headers!.get("x-request-id")!)).toMatchObject({ status: c.status, error_code: `upstream_http_${c.status}`, backend: "gemini-errors" });
    });
  }

  test("a 429 says how long to wait in its body (RetryInfo): the client gets it as Retry-After", async () => {
    const err = await failure(client.chat.completions.create({ model: "gemini-errors", messages: HELLO }, { headers: { "x-mock-status": "429", "x-mock-retry-after": "7" } }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as OpenAIApiError).headers!.get("retry-after")).toBe("7");
  });

  test("an error event in the middle of the backend's stream is raised by the SDK's iterator, after the text that came before it", async () => {
    const stream = await client.chat.completions.create({ model: "gemini-errors", messages: HELLO, stream: true }, { headers: { "x-mock-error-after": "3", "x-request-id": "gemini-stream-error-1" } });
    let text = "";
    const err = await failure(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      })(),
    );
    expect(text).toBe(mockCompletionText(3));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as OpenAIApiError).type).toBe("server_error");
    expect(((err as OpenAIApiError).error as { message: string }).message).toContain("overloaded");
    expect(await proxy.accessLine("gemini-stream-error-1")).toMatchObject({ status: 200, error_code: "upstream_stream_error" });
  });

  test("what Gemini cannot express (logprobs) is a 400 invalid_request naming the parameter, and never reaches the backend", async () => {
    const before = mock.backend.stats.requests;
    const err = await failure(client.chat.completions.create({ model: "gemini-flash", messages: HELLO, logprobs: true }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as OpenAIApiError).code).toBe("invalid_request");
    expect((err as OpenAIApiError).param).toBe("logprobs");
    expect(mock.backend.stats.requests).toBe(before);
  });

  test("endpoints Gemini does not serve through the gateway: /v1/embeddings and /v1/completions answer 400 endpoint_not_supported", async () => {
    const emb = await failure(client.embeddings.create({ model: "gemini-flash", input: "hello" }));
    expect(emb).toBeInstanceOf(OpenAI.BadRequestError);
    expect((emb as OpenAIApiError).code).toBe("endpoint_not_supported");
    const before = mock.backend.stats.requests;
    const legacy = await failure(client.completions.create({ model: "gemini-flash", prompt: "hello" }));
    expect(legacy).toBeInstanceOf(OpenAI.BadRequestError);
    expect((legacy as OpenAIApiError).code).toBe("endpoint_not_supported");
    expect(((legacy as OpenAIApiError).error as { message: string }).message).toContain("/v1/chat/completions and /v1/messages");
    expect(mock.backend.stats.requests).toBe(before);
    // /v1/messages is served, translated: test/e2e/protocols-anthropic-gemini.test.ts
  });
});
