// The mock on a real socket, driven by the official Anthropic client.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";

let server: MockServer;
let client: Anthropic;
const TOKENS = 6;

beforeAll(async () => {
  server = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  client = new Anthropic({ apiKey: "sk-ant-test", baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server.stop();
});

const messages = [{ role: "user" as const, content: "write a haiku about proxies" }];
const system = "you are a poet";
const inputTokens = countPromptTokens("messages", { system, messages });

const weatherTool = {
  name: "get_weather",
  description: "weather for a place",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

describe("messages through the Anthropic client", () => {
  test("messages.create: the text, end_turn and exact usage", async () => {
    const msg = await client.messages.create({ model: "claude-any", max_tokens: 100, system, messages });
    expect(msg.id).toStartWith("msg_");
    expect(msg.type).toBe("message");
    expect(msg.role).toBe("assistant");
    expect(msg.model).toBe("claude-any");
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.stop_sequence).toBeNull();
    expect(msg.usage as unknown).toEqual({ input_tokens: inputTokens, output_tokens: TOKENS, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });

  test("max_tokens below the answer's length stops with max_tokens", async () => {
    const msg = await client.messages.create({ model: "c", max_tokens: 2, messages });
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.content[0] as unknown).toEqual({ type: "text", text: mockCompletionText(2) });
    expect(msg.usage.output_tokens).toBe(2);
  });

  test("messages.stream: text events, and a final message whose usage the SDK took from message_delta", async () => {
    const stream = client.messages.stream({ model: "c", max_tokens: 100, system, messages });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas).toHaveLength(TOKENS);
    expect(deltas.join("")).toBe(mockCompletionText(TOKENS));
    expect(final.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.input_tokens).toBe(inputTokens);
    expect(final.usage.output_tokens).toBe(TOKENS);
  });

  test("a raw stream has the documented event order", async () => {
    const stream = await client.messages.create({ model: "c", max_tokens: 100, messages, stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types).toEqual([
      "message_start",
      "content_block_start",
      ...Array<string>(TOKENS).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  test("with tools the answer is a tool_use block; streamed, the SDK parses input_json_delta into the input", async () => {
    const whole = await client.messages.create({ model: "c", max_tokens: 100, messages, tools: [weatherTool] });
    expect(whole.stop_reason).toBe("tool_use");
    const block = whole.content[0];
    if (block?.type !== "tool_use") throw new Error("expected a tool_use block");
    expect(block.id).toStartWith("toolu_");
    expect(block.name).toBe("get_weather");
    expect(block.input).toEqual({ city: mockCompletionText(TOKENS) });

    const streamed = await client.messages.stream({ model: "c", max_tokens: 100, messages, tools: [weatherTool], tool_choice: { type: "tool", name: "get_weather" } }).finalMessage();
    expect(streamed.stop_reason).toBe("tool_use");
    expect(streamed.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: mockCompletionText(TOKENS) } });
    expect(streamed.usage.output_tokens).toBe(TOKENS);
  });

  test("tool_choice none answers with text", async () => {
    const msg = await client.messages.create({ model: "c", max_tokens: 100, messages, tools: [weatherTool], tool_choice: { type: "none" } });
    expect(msg.content[0]?.type).toBe("text");
  });

  test("count_tokens counts the prompt exactly as the messages endpoint does", async () => {
    const r = await client.messages.countTokens({ model: "c", system, messages });
    expect(r.input_tokens).toBe(inputTokens);
  });

  test("max_tokens that cuts a tool call short stops with max_tokens", async () => {
    const msg = await client.messages.create({ model: "c", max_tokens: 3, messages, tools: [weatherTool] });
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.usage.output_tokens).toBe(3);
  });
});

describe("prompt caching, thinking and in-stream errors on request (x-mock-* headers)", () => {
  const cache = { "x-mock-cache-read": "100", "x-mock-cache-write": "20" };

  test("x-mock-cache-read and x-mock-cache-write report cache tokens beside the counted input_tokens", async () => {
    const msg = await client.messages.create({ model: "c", max_tokens: 100, system, messages }, { headers: cache });
    expect(msg.usage as unknown).toEqual({ input_tokens: inputTokens, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: TOKENS });
    const streamed = await client.messages.stream({ model: "c", max_tokens: 100, system, messages }, { headers: cache }).finalMessage();
    expect(streamed.usage).toMatchObject({ input_tokens: inputTokens, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: TOKENS });
  });

  test("x-mock-thinking: N puts a signed thinking block of N tokens before the answer, counted in output_tokens", async () => {
    const headers = { "x-mock-thinking": "3" };
    const msg = await client.messages.create({ model: "c", max_tokens: 100, messages, thinking: { type: "enabled", budget_tokens: 1024 } }, { headers });
    expect(msg.content.map((b) => b.type)).toEqual(["thinking", "text"]);
    const thinking = msg.content[0];
    if (thinking?.type !== "thinking") throw new Error("expected a thinking block");
    expect(thinking.thinking).toBe(mockCompletionText(3));
    expect(thinking.signature.length).toBeGreaterThan(10);
    expect(msg.content[1] as unknown).toEqual({ type: "text", text: mockCompletionText(TOKENS) });
    expect(msg.usage.output_tokens).toBe(3 + TOKENS);

    const stream = client.messages.stream({ model: "c", max_tokens: 100, messages, thinking: { type: "enabled", budget_tokens: 1024 } }, { headers });
    const thoughts: string[] = [];
    stream.on("thinking", (delta) => thoughts.push(delta));
    const final = await stream.finalMessage();
    expect(thoughts.join("")).toBe(mockCompletionText(3));
    expect(final.content).toMatchObject([
      { type: "thinking", thinking: mockCompletionText(3) },
      { type: "text", text: mockCompletionText(TOKENS) },
    ]);
    expect((final.content[0] as { signature: string }).signature.length).toBeGreaterThan(10);
    expect(final.usage.output_tokens).toBe(3 + TOKENS);
  });

  test("thinking before a streamed tool call: the tool_use block is the second one and its input is whole", async () => {
    const final = await client.messages
      .stream({ model: "c", max_tokens: 100, messages, tools: [weatherTool] }, { headers: { "x-mock-thinking": "2" } })
      .finalMessage();
    expect(final.content.map((b) => b.type)).toEqual(["thinking", "tool_use"]);
    expect(final.content[1]).toMatchObject({ name: "get_weather", input: { city: mockCompletionText(TOKENS) } });
    expect(final.stop_reason).toBe("tool_use");
  });

  test("x-mock-error-after: N streams N tokens, then an `event: error` the SDK raises as an overloaded_error", async () => {
    const stream = client.messages.stream({ model: "c", max_tokens: 100, messages }, { headers: { "x-mock-error-after": "2" } });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const err = await stream.finalMessage().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.error).toEqual({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    expect(deltas.join("")).toBe(mockCompletionText(2));
  });

  test("x-mock-error-after on a whole answer is the 529 an overloaded API answers", async () => {
    const err = await client.messages.create({ model: "c", max_tokens: 10, messages }, { headers: { "x-mock-error-after": "1" } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });

  test("x-mock-drop-after: N cuts an Anthropic stream after N tokens; the SDK sees a failure, not an end", async () => {
    const stream = client.messages.stream({ model: "c", max_tokens: 100, messages }, { headers: { "x-mock-drop-after": "2" } });
    const err = await stream.finalMessage().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });
});

describe("error answers as the Anthropic client sees them", () => {
  test("x-mock-status: 529 is an overloaded_error in Anthropic's error shape", async () => {
    const err = await client.messages
      .create({ model: "c", max_tokens: 10, messages }, { headers: { "x-mock-status": "529" } })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.status).toBe(529);
    expect(e.error).toEqual({ type: "error", error: { type: "overloaded_error", message: "mock error" } });
  });

  test("each error status is the SDK's error class with Anthropic's error type", async () => {
    const cases: [string, new (...args: never[]) => Error, string][] = [
      ["400", Anthropic.BadRequestError, "invalid_request_error"],
      ["401", Anthropic.AuthenticationError, "authentication_error"],
      ["403", Anthropic.PermissionDeniedError, "permission_error"],
      ["404", Anthropic.NotFoundError, "not_found_error"],
      ["500", Anthropic.InternalServerError, "api_error"],
    ];
    for (const [status, cls, type] of cases) {
      const err = await client.messages.create({ model: "c", max_tokens: 10, messages }, { headers: { "x-mock-status": status } }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(cls);
      const e = err as InstanceType<typeof Anthropic.APIError>;
      expect(e.status).toBe(Number(status));
      expect(e.type).toBe(type as typeof e.type);
    }
  });

  test("a malformed x-mock header is a 400 invalid_request_error that names it", async () => {
    const err = await client.messages.create({ model: "c", max_tokens: 10, messages }, { headers: { "x-mock-thinking": "lots" } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: 'x-mock-thinking must be a whole number >= 0, got "lots"' },
    });
  });

  test("x-mock-status: 429 with retry-after is a RateLimitError", async () => {
    const err = await client.messages
      .create({ model: "c", max_tokens: 10, messages }, { headers: { "x-mock-status": "429", "x-mock-retry-after": "3" } })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.headers?.get("retry-after")).toBe("3");
    expect(e.error).toMatchObject({ error: { type: "rate_limit_error" } });
  });
});
