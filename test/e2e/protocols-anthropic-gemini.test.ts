// The Anthropic front door in front of a `provider: gemini` backend (Claude Code or the
// Anthropic SDK served by Gemini): POST /v1/messages translated to generateContent /
// streamGenerateContent?alt=sse through OpenAI's chat completions (providers/chain.ts),
// driven by the official Anthropic SDK through the real daemon. The backend is the fake
// LLM speaking Gemini's wire format; its request records show what the gateway sent.
// With LLMPROXY_BIN set, this runs against the binary.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { ANTHROPIC_WEATHER_TOOL as WEATHER_TOOL, expectCountNotLogged, expectStreamedWeatherToolUse, expectWeatherToolUse, failure } from "../helpers/client-fixtures.ts";
import { startGeminiProxy } from "../helpers/gemini-proxy.ts";
import type { ProxyProcess } from "../helpers/proxy.ts";

type AnthropicApiError = InstanceType<typeof Anthropic.APIError>;
type Json = Record<string, unknown>;

const TOKENS = 5;
const GOOGLE_KEY = "AIza-backend-key-for-chain-tests";
const CLIENT_KEY = "client-key-must-not-leak-either";

const HELLO = [{ role: "user" as const, content: "Hello there" }];
const SYSTEM = "you are terse";

let mock: MockServer;
let proxy: ProxyProcess;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  proxy = await startGeminiProxy(mock.url, GOOGLE_KEY, "claude-on-gemini");
  client = new Anthropic({ baseURL: proxy.url, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
});

describe("whole answers", () => {
  test("messages.create: generateContent on the upstream model with the system prompt as systemInstruction; the exact text, end_turn, usage from usageMetadata", async () => {
    const seen = mock.backend.nextEnd();
    const { data: msg, response } = await client.messages.create({ model: "claude-on-gemini", max_tokens: 100, system: SYSTEM, messages: HELLO }).withResponse();
    const end = await seen;
    expect(end.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    const sent = JSON.parse(end.body) as Json;
    expect(sent.contents).toEqual([{ role: "user", parts: [{ text: "Hello there" }] }]);
    expect(sent.systemInstruction).toEqual({ parts: [{ text: SYSTEM }] });
    expect(sent.generationConfig).toMatchObject({ maxOutputTokens: 100 });
    expect(msg.type).toBe("message");
    expect(msg.id).toStartWith("msg_");
    expect(msg.model).toBe("claude-on-gemini");
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, output_tokens: TOKENS });
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ endpoint: "/v1/messages", status: 200, backend: "gemini", upstream_model: "gemini-2.5-flash", prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend", stream: false });
  });

  test("the backend gets its own key as x-goog-api-key; the client's key goes nowhere", async () => {
    const seen = mock.backend.nextEnd();
    await client.messages.create({ model: "claude-on-gemini", max_tokens: 50, messages: HELLO });
    const end = await seen;
    expect(end.headers.get("x-goog-api-key")).toBe(GOOGLE_KEY);
    expect(end.headers.get("x-api-key")).toBeNull();
    expect([...end.headers.values()].join("\n")).not.toContain(CLIENT_KEY);
  });

  test("cached prompt tokens and thinking tokens: cache_read_input_tokens from cachedContentTokenCount, thoughts counted as output; the record has Gemini's numbers", async () => {
    const seen = mock.backend.nextEnd();
    const { data: msg, response } = await client.messages.create({ model: "claude-on-gemini", max_tokens: 100, messages: HELLO }, { headers: { "x-mock-cache-read": "4", "x-mock-thinking": "3" } }).withResponse();
    const end = await seen;
    expect(msg.usage).toMatchObject({ input_tokens: end.promptTokens, cache_read_input_tokens: 4, output_tokens: TOKENS + 3 });
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ prompt_tokens: end.promptTokens + 4, cached_tokens: 4, completion_tokens: TOKENS + 3, usage_source: "backend" });
  });

  test("the sampling parameters reach generationConfig (temperature, top_p, top_k, stop_sequences), extended thinking's budget as thinkingBudget; metadata does not break the request", async () => {
    const seen = mock.backend.nextEnd();
    // this SDK's types no longer list the sampling parameters; the Messages API takes them
    const params = {
      model: "claude-on-gemini",
      max_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      top_k: 20,
      stop_sequences: ["###"],
      metadata: { user_id: "user-42" },
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: HELLO,
    } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    const msg = await client.messages.create(params);
    expect(msg.stop_reason).toBe("end_turn");
    const sent = JSON.parse((await seen).body) as { generationConfig: Json };
    expect(sent.generationConfig).toEqual({ temperature: 0.5, topP: 0.9, topK: 20, maxOutputTokens: 64, stopSequences: ["###"], thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } });
    // without thinking the model keeps its own default
    const plain = mock.backend.nextEnd();
    await client.messages.create({ model: "claude-on-gemini", max_tokens: 64, messages: HELLO });
    expect((JSON.parse((await plain).body) as { generationConfig: Json }).generationConfig).toEqual({ maxOutputTokens: 64 });
  });

  test("extended thinking: Gemini's thought summary comes back as a thinking block before the text, whole and streamed; thoughts count as output", async () => {
    const thinking = { type: "enabled", budget_tokens: 512 } as const;
    const headers = { "x-mock-thinking": "3" };
    const msg = await client.messages.create({ model: "claude-on-gemini", max_tokens: 100, thinking, messages: HELLO }, { headers });
    expect(msg.content as unknown).toEqual([
      { type: "thinking", thinking: mockCompletionText(3), signature: "" },
      { type: "text", text: mockCompletionText(TOKENS) },
    ]);
    expect(msg.usage.output_tokens).toBe(TOKENS + 3);

    const stream = client.messages.stream({ model: "claude-on-gemini", max_tokens: 100, thinking, messages: HELLO }, { headers });
    const thoughts: string[] = [];
    stream.on("thinking", (delta) => thoughts.push(delta));
    const final = await stream.finalMessage();
    expect(thoughts.join("")).toBe(mockCompletionText(3));
    expect(final.content.map((b) => b.type)).toEqual(["thinking", "text"]);
    expect(final.content[1]).toMatchObject({ type: "text", text: mockCompletionText(TOKENS) });
    expect(final.usage.output_tokens).toBe(TOKENS + 3);
  });

  test("max_tokens below the answer's length: stop_reason max_tokens, whole and streamed", async () => {
    const msg = await client.messages.create({ model: "claude-on-gemini", max_tokens: 2, messages: HELLO });
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(2) }]);
    const final = await client.messages.stream({ model: "claude-on-gemini", max_tokens: 3, messages: HELLO }).finalMessage();
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(3) }]);
  });
});

describe("streams", () => {
  test("messages.stream(): streamGenerateContent?alt=sse, the text event by event, end_turn, the usage of message_delta; the record has the exact counts", async () => {
    const seen = mock.backend.nextEnd();
    const stream = client.messages.stream({ model: "claude-on-gemini", max_tokens: 100, system: SYSTEM, messages: HELLO });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const final = await stream.finalMessage();
    const end = await seen;
    // the fake backend refuses a stream asked without alt=sse: this answer proves the query
    expect(end.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    expect(deltas.join("")).toBe(mockCompletionText(TOKENS));
    expect(deltas).toHaveLength(TOKENS);
    expect(final.model).toBe("claude-on-gemini");
    expect(final.stop_reason).toBe("end_turn");
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(final.usage).toMatchObject({ input_tokens: end.promptTokens, output_tokens: TOKENS });
    const line = await proxy.accessLine((await stream.withResponse()).response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ endpoint: "/v1/messages", status: 200, stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("the raw events are Anthropic's, in order: message_start, one text block, message_delta with stop_reason and usage, message_stop; no OpenAI chunk leaks through", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-on-gemini", max_tokens: 100, stream: true, messages: HELLO }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const text = await res.text();
    expect(text).not.toContain("chat.completion.chunk");
    expect(text).not.toContain("[DONE]");
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe("message_start");
    expect(events.at(-1)).toBe("message_stop");
    expect(events.at(-2)).toBe("message_delta");
    expect(events.filter((e) => e === "content_block_start")).toHaveLength(1);
    expect(events.filter((e) => e === "content_block_delta")).toHaveLength(TOKENS);
    const delta = JSON.parse(/^event: message_delta\ndata: (.*)$/m.exec(text)![1]!) as { delta: Json; usage: Json };
    expect(delta.delta.stop_reason).toBe("end_turn");
    expect(delta.usage.output_tokens).toBe(TOKENS);
  });
});

describe("tools", () => {
  test("a tool call, whole and streamed: a tool_use block with its input as an object, stop_reason tool_use; the tool sent as a functionDeclaration, tool_choice any as mode ANY", async () => {
    const seen = mock.backend.nextEnd();
    const msg = await client.messages.create({ model: "claude-on-gemini", max_tokens: 100, messages: HELLO, tools: [WEATHER_TOOL], tool_choice: { type: "any" } });
    const sent = JSON.parse((await seen).body) as { tools: { functionDeclarations: Json[] }[]; toolConfig: Json };
    expect(sent.tools[0]!.functionDeclarations[0]).toMatchObject({ name: "get_weather", description: "Weather at a place" });
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY" } });
    expectWeatherToolUse(msg, TOKENS);
    await expectStreamedWeatherToolUse(client.messages.stream({ model: "claude-on-gemini", max_tokens: 100, messages: HELLO, tools: [WEATHER_TOOL] }), TOKENS);
  });

  test("the tool loop: the tool_use goes back as the model's functionCall, the tool_result as a functionResponse named after it, and the answer ends the turn", async () => {
    const first = await client.messages.create({ model: "claude-on-gemini", max_tokens: 100, messages: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER_TOOL] });
    const call = first.content.find((b) => b.type === "tool_use");
    if (!call || call.type !== "tool_use") throw new Error("no tool_use in the first answer");
    const seen = mock.backend.nextEnd();
    const second = await client.messages.create({
      model: "claude-on-gemini",
      max_tokens: 100,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18 degrees and sunny" }] },
      ],
      tools: [WEATHER_TOOL],
      // the fake model calls a tool whenever it may: here it must answer
      tool_choice: { type: "none" },
    });
    expect(second.stop_reason).toBe("end_turn");
    expect(second.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    const sent = JSON.parse((await seen).body) as { contents: { role: string; parts: Json[] }[]; toolConfig: Json };
    expect(sent.contents).toHaveLength(3);
    expect(sent.contents[1]!.role).toBe("model");
    expect(sent.contents[1]!.parts.find((p) => "functionCall" in p)!.functionCall).toEqual({ name: "get_weather", args: call.input });
    expect(sent.contents[2]).toEqual({ role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "18 degrees and sunny" } } }] });
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "NONE" } });
  });
});

describe("a Claude-Code-shaped request", () => {
  test("system blocks with cache_control, a tool schema with $schema and additionalProperties, a failed tool's result: all reach Gemini in its own terms", async () => {
    const bash = {
      name: "Bash",
      description: "Run a shell command",
      input_schema: {
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "object" as const,
        properties: { command: { type: "string", description: "the command" }, timeout: { type: "number" } },
        required: ["command"],
        additionalProperties: false,
      },
    };
    const seen = mock.backend.nextEnd();
    const msg = await client.messages.create({
      model: "claude-on-gemini",
      max_tokens: 200,
      system: [
        { type: "text", text: "You are a coding agent." },
        { type: "text", text: "Be careful.", cache_control: { type: "ephemeral" } },
      ],
      tools: [bash],
      tool_choice: { type: "none" },
      messages: [
        { role: "user", content: "list the files" },
        { role: "assistant", content: [{ type: "text", text: "Listing." }, { type: "tool_use", id: "toolu_01", name: "Bash", input: { command: "ls" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", is_error: true, content: [{ type: "text", text: "permission denied" }] }] },
      ],
    });
    expect(msg.stop_reason).toBe("end_turn");
    const sent = JSON.parse((await seen).body) as { systemInstruction: { parts: Json[] }; tools: { functionDeclarations: Json[] }[]; contents: { role: string; parts: Json[] }[] };
    expect(sent.systemInstruction.parts.map((p) => p.text).join("\n")).toContain("You are a coding agent.");
    expect(JSON.stringify(sent.systemInstruction)).toContain("Be careful.");
    const decl = sent.tools[0]!.functionDeclarations[0]!;
    expect(decl.name).toBe("Bash");
    expect(JSON.stringify(decl.parameters)).not.toContain("$schema");
    expect(JSON.stringify(decl.parameters)).not.toContain("additionalProperties");
    expect(decl.parameters).toMatchObject({ type: "OBJECT", required: ["command"] });
    expect(sent.contents.map((c) => c.role)).toEqual(["user", "model", "user"]);
    expect(sent.contents[1]!.parts.some((p) => JSON.stringify(p.functionCall) === JSON.stringify({ name: "Bash", args: { command: "ls" } }))).toBe(true);
    expect(JSON.stringify(sent.contents[2]!.parts)).toContain("permission denied");
    expect(sent.contents[2]!.parts[0]!.functionResponse).toMatchObject({ name: "Bash" });
  });
});

describe("errors", () => {
  const cases = [
    { status: 400, cls: Anthropic.BadRequestError, type: "invalid_request_error" },
    { status: 429, cls: Anthropic.RateLimitError, type: "rate_limit_error" },
    { status: 500, cls: Anthropic.InternalServerError, type: "api_error" },
    { status: 503, cls: Anthropic.InternalServerError, type: "overloaded_error" },
  ];
  for (const c of cases) {
    test(`a backend ${c.status} (google.rpc.Status) is raised by the SDK as ${c.cls.name}, an Anthropic error of type ${c.type} with the backend's message`, async () => {
      const err = await failure(client.messages.create({ model: "gemini-errors", max_tokens: 10, messages: HELLO }, { headers: { "x-mock-status": String(c.status), "x-mock-retry-after": "0" } }));
      expect(err).toBeInstanceOf(c.cls);
      const e = err as AnthropicApiError;
      expect(e.status).toBe(c.status);
      const body = e.error as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe("error");
      expect(body.error.type).toBe(c.type);
      expect(body.error.message).toContain("mock error");
      expect(await proxy.accessLine(e.headers!.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/messages", status: c.status, error_code: `upstream_http_${c.status}`, backend: "gemini-errors" });
    });
  }

  test("a 429 says how long to wait in its body (RetryInfo): the client gets it as Retry-After", async () => {
    const err = await failure(client.messages.create({ model: "gemini-errors", max_tokens: 10, messages: HELLO }, { headers: { "x-mock-status": "429", "x-mock-retry-after": "7" } }));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as AnthropicApiError).headers!.get("retry-after")).toBe("7");
  });

  test("an error event in the middle of the backend's stream is raised by the SDK's stream, after the text that came before it; the record says upstream_stream_error", async () => {
    const stream = client.messages.stream({ model: "gemini-errors", max_tokens: 100, messages: HELLO }, { headers: { "x-mock-error-after": "2", "x-request-id": "anthropic-gemini-stream-error-1" } });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const err = await failure(stream.finalMessage());
    expect(deltas.join("")).toBe(mockCompletionText(2));
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toContain("overloaded");
    expect(await proxy.accessLine("anthropic-gemini-stream-error-1")).toMatchObject({ status: 200, error_code: "upstream_stream_error" });
  });

  test("a request Gemini cannot take once translated (a tool_result for a call no earlier turn made) is a 400 invalid_request_error that says so, and never reaches the backend", async () => {
    const before = mock.backend.stats.requests;
    const err = await failure(
      client.messages.create({
        model: "claude-on-gemini",
        max_tokens: 10,
        messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_nobody_made", content: "orphan" }] }],
      }),
    );
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as AnthropicApiError).error as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("as translated for a Gemini backend");
    expect(mock.backend.stats.requests).toBe(before);
  });
});

describe("POST /v1/messages/count_tokens: Gemini's own count", () => {
  const request = { model: "claude-on-gemini", system: SYSTEM, messages: HELLO, tools: [WEATHER_TOOL] };

  test("the request goes to countTokens translated as for generateContent (system prompt and tools included), and its totalTokens comes back as input_tokens", async () => {
    const seen = mock.backend.nextEnd();
    const counted = await client.messages.countTokens(request);
    const end = await seen;
    expect(end.path).toBe("/v1beta/models/gemini-2.5-flash:countTokens");
    expect(end.headers.get("x-goog-api-key")).toBe(GOOGLE_KEY);
    const sent = JSON.parse(end.body) as { generateContentRequest: Json };
    expect(Object.keys(sent)).toEqual(["generateContentRequest"]);
    const inner = sent.generateContentRequest;
    expect(inner.model).toBe("models/gemini-2.5-flash");
    expect(inner.contents).toEqual([{ role: "user", parts: [{ text: "Hello there" }] }]);
    expect(inner.systemInstruction).toEqual({ parts: [{ text: SYSTEM }] });
    expect((inner.tools as { functionDeclarations: Json[] }[])[0]!.functionDeclarations[0]).toMatchObject({ name: "get_weather" });
    expect(inner.generationConfig).toBeUndefined();
    expect(counted).toEqual({ input_tokens: countPromptTokens("gemini", inner) });
    // the system prompt and the tools count: more than the message alone
    const bare = await client.messages.countTokens({ model: "claude-on-gemini", messages: HELLO });
    expect(counted.input_tokens).toBeGreaterThan(bare.input_tokens);
  });

  test("counting is not inference: no usage record, no access-log line", async () => {
    await expectCountNotLogged(proxy, client, request, "claude-on-gemini");
  });

  test("Gemini's refusal comes back in Anthropic's shape (429: RateLimitError, rate_limit_error)", async () => {
    const err = await failure(client.messages.countTokens({ ...request, model: "gemini-errors" }, { headers: { "x-mock-status": "429", "x-mock-retry-after": "0" } }));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const body = (err as AnthropicApiError).error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("rate_limit_error");
    expect(body.error.message).toContain("mock error");
  });

  test("a request Gemini cannot count once translated is a 400 invalid_request_error, and never reaches the backend", async () => {
    const before = mock.backend.stats.requests;
    const err = await failure(client.messages.countTokens({ model: "claude-on-gemini", messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_nobody_made", content: "orphan" }] }] }));
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as AnthropicApiError).error as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("cannot count this request");
    expect(mock.backend.stats.requests).toBe(before);
  });
});
