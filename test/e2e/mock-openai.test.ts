// The mock on a real socket, driven by the official openai client: whatever the SDK
// accepts from OpenAI it must accept from the mock.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";

let server: MockServer;
let client: OpenAI;
const TOKENS = 5;

beforeAll(async () => {
  server = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  client = new OpenAI({ apiKey: "sk-test", baseURL: `${server.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await server.stop();
});

const messages = [
  { role: "system" as const, content: "you are a mock" },
  { role: "user" as const, content: "say something" },
];
const promptTokens = countPromptTokens("chat", { messages });

describe("chat completions through the openai client", () => {
  test("a whole answer has the predictable text and exact usage", async () => {
    const c = await client.chat.completions.create({ model: "any-model", messages });
    expect(c.object).toBe("chat.completion");
    expect(c.id).toStartWith("chatcmpl-");
    expect(c.model).toBe("any-model");
    expect(c.choices[0]?.message.content).toBe(mockCompletionText(TOKENS));
    expect(c.choices[0]?.finish_reason).toBe("stop");
    expect(c.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: TOKENS, total_tokens: promptTokens + TOKENS });
  });

  test("a stream with include_usage delivers one chunk per token and chunk.usage on the last", async () => {
    const stream = await client.chat.completions.create({ model: "m", messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    // role chunk, one per token, finish chunk, usage chunk
    expect(chunks).toHaveLength(1 + TOKENS + 1 + 1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(mockCompletionText(TOKENS));
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: TOKENS, total_tokens: promptTokens + TOKENS });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
  });

  test("a stream without include_usage has no usage at all", async () => {
    const stream = await client.chat.completions.create({ model: "m", messages, stream: true });
    for await (const chunk of stream) expect(chunk.usage).toBeUndefined();
  });

  test("x-mock-usage: 0 makes a backend that reports no usage", async () => {
    const c = await client.chat.completions.create({ model: "m", messages }, { headers: { "x-mock-usage": "0" } });
    expect(c.usage).toBeUndefined();
  });

  test("x-mock-tokens and max_tokens set the length; the cap finishes with \"length\"", async () => {
    const c = await client.chat.completions.create({ model: "m", messages }, { headers: { "x-mock-tokens": "40" } });
    expect(c.choices[0]?.message.content).toBe(mockCompletionText(40));
    const cut = await client.chat.completions.create({ model: "m", messages, max_tokens: 3 }, { headers: { "x-mock-tokens": "40" } });
    expect(cut.choices[0]?.message.content).toBe(mockCompletionText(3));
    expect(cut.choices[0]?.finish_reason).toBe("length");
    expect(cut.usage?.completion_tokens).toBe(3);
  });

  test("a streamed tool call is assembled by the SDK into valid JSON arguments", async () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } },
      },
    ];
    const ended = server.backend.nextEnd();
    const stream = client.chat.completions.stream({ model: "m", messages, tools, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe("function");
    if (call?.type !== "function") throw new Error("expected a function call");
    expect(call.id).toStartWith("call_");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: mockCompletionText(TOKENS) });
    // completion tokens = argument fragments
    expect(final.usage?.completion_tokens).toBe(TOKENS);
    expect((await ended).completionTokensSent).toBe(TOKENS);
  });
});

describe("the other OpenAI endpoints through the openai client", () => {
  test("models.list names mock-1", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(["mock-1"]);
  });

  test("legacy completions, whole and streamed", async () => {
    const c = await client.completions.create({ model: "m", prompt: "once upon a time" });
    expect(c.object).toBe("text_completion");
    expect(c.choices[0]?.text).toBe(mockCompletionText(TOKENS));
    expect(c.usage).toEqual({ prompt_tokens: 4, completion_tokens: TOKENS, total_tokens: 4 + TOKENS });
    const stream = await client.completions.create({ model: "m", prompt: "once", stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(mockCompletionText(TOKENS));
    expect(usage).toEqual({ prompt_tokens: 1, completion_tokens: TOKENS, total_tokens: 1 + TOKENS });
  });

  test("embeddings: the SDK's default base64 decodes to the same vectors as float", async () => {
    const input = ["first text", "second"];
    const viaBase64 = await client.embeddings.create({ model: "emb", input });
    const viaFloat = await client.embeddings.create({ model: "emb", input, encoding_format: "float", dimensions: 8 });
    expect(viaBase64.data).toHaveLength(2);
    expect(viaBase64.data[1]?.index).toBe(1);
    expect(viaBase64.data[0]?.embedding).toHaveLength(8);
    expect(viaBase64.data.map((d) => d.embedding)).toEqual(viaFloat.data.map((d) => d.embedding));
    expect(viaFloat.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const wide = await client.embeddings.create({ model: "emb", input: "x", dimensions: 64, encoding_format: "float" });
    expect(wide.data[0]?.embedding).toHaveLength(64);
  });

  test("responses.create, whole: output_text, a completed status and the usage details", async () => {
    const r = await client.responses.create({ model: "m", input: "tell me a story", instructions: "be short" });
    expect(r.id).toStartWith("resp_");
    expect(r.object).toBe("response");
    expect(r.status).toBe("completed");
    expect(r.output_text).toBe(mockCompletionText(TOKENS));
    const input = countPromptTokens("responses", { input: "tell me a story", instructions: "be short" });
    expect(r.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: TOKENS,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + TOKENS,
    });
  });

  test("responses.create, streamed: the documented event sequence with one delta per token", async () => {
    const stream = await client.responses.create({ model: "m", input: [{ role: "user", content: "hi" }], stream: true });
    const types: string[] = [];
    const seqs: number[] = [];
    let text = "";
    let usage: unknown;
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") usage = ev.response.usage;
    }
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...Array<string>(TOKENS).fill("response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(seqs).toEqual(types.map((_, i) => i));
    expect(text).toBe(mockCompletionText(TOKENS));
    expect(usage).toMatchObject({ input_tokens: 4, output_tokens: TOKENS, total_tokens: 4 + TOKENS });
  });

  test("the SDK's responses.stream helper assembles the final response", async () => {
    const final = await client.responses.stream({ model: "m", input: "hi" }).finalResponse();
    expect(final.status).toBe("completed");
    const item = final.output[0];
    if (item?.type !== "message") throw new Error("expected a message item");
    expect(item.content[0]).toMatchObject({ type: "output_text", text: mockCompletionText(TOKENS) });
    expect(final.usage?.output_tokens).toBe(TOKENS);
  });

  test("a stream cut by max_output_tokens ends with response.incomplete, as the real API does", async () => {
    const stream = await client.responses.create({ model: "m", input: "hi", max_output_tokens: 2, stream: true });
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const ev of stream) last = ev;
    expect(last?.type).toBe("response.incomplete");
    if (last?.type !== "response.incomplete") throw new Error("unreachable");
    expect(last.response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(last.response.usage?.output_tokens).toBe(2);
  });
});

describe("error answers as the openai client sees them", () => {
  test("x-mock-status: 429 with x-mock-retry-after is a RateLimitError carrying retry-after", async () => {
    const err = await client.chat.completions
      .create({ model: "m", messages }, { headers: { "x-mock-status": "429", "x-mock-retry-after": "7" } })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.type).toBe("rate_limit_error");
    expect(e.code).toBe("rate_limit_exceeded");
    expect(e.headers?.get("retry-after")).toBe("7");
  });

  test("x-mock-status: 503 is a server_error the SDK classifies as InternalServerError", async () => {
    const err = await client.chat.completions.create({ model: "m", messages }, { headers: { "x-mock-status": "503" } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).type).toBe("server_error");
  });
});
