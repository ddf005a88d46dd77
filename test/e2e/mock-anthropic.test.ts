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
