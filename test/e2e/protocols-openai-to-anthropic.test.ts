// Issue 9, point 1: the official OpenAI client in front of a `provider: anthropic`
// backend, through the real daemon. The backend is the fake LLM speaking Anthropic's
// /v1/messages (its request records show the translated request exactly as it arrived),
// and, for what the fake cannot say (a stop_sequence stop, a text followed by two tool
// calls in one stream, a tool loop that ends once the tools' results came back), a small
// Anthropic-speaking server of the test's own.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { sseAnswer, startRecordingBackend, type RecordedRequest, type RecordingBackend } from "../helpers/recording-backend.ts";
import { drainChat, WEATHER_TOOL } from "../helpers/client-fixtures.ts";

type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;

const TOKENS = 8;
const BACKEND_KEY = "sk-ant-backend-secret-1";
const CLIENT_KEY = "client-key-must-not-leak";
/** A 1x1 transparent PNG. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

let mock: MockServer;
let scripted: RecordingBackend;
let proxy: ProxyProcess;
let client: OpenAI;

const HELLO = [{ role: "user" as const, content: "Hello there" }];

type Json = Record<string, unknown>;

function lastUserBlocks(body: Json): Json[] {
  const messages = body.messages as { role: string; content: string | Json[] }[];
  const last = messages.at(-1)!;
  return typeof last.content === "string" ? [] : last.content;
}

/** An Anthropic stream event. */
function event(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}`;
}

/**
 * A streamed answer as Claude writes one before it calls tools: a text block, then one
 * tool_use block per city (each input in two input_json_delta fragments); or, once the
 * results came back, one text block quoting them.
 */
function anthropicStream(body: Json, results: Json[]): Response {
  const start = event("message_start", { message: { id: "msg_scripted_stream", type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 11, output_tokens: 1 } } });
  const text = (index: number, t: string) => [
    event("content_block_start", { index, content_block: { type: "text", text: "" } }),
    event("content_block_delta", { index, delta: { type: "text_delta", text: t } }),
    event("content_block_stop", { index }),
  ];
  const end = (stop: string, output: number) => [event("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: output } }), event("message_stop", {})];
  if (results.length > 0) return sseAnswer([start, ...text(0, `The tools said: ${results.map((r) => String(r.content)).join("; ")}`), ...end("end_turn", 9)]);
  const tool = (body.tools as { name: string }[])[0]!.name;
  const call = (index: number, id: string, city: string) => [
    event("content_block_start", { index, content_block: { type: "tool_use", id, name: tool, input: {} } }),
    event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: '{"location":' } }),
    event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: ` "${city}"}` } }),
    event("content_block_stop", { index }),
  ];
  return sseAnswer([start, event("ping", {}), ...text(0, "Let me check both cities."), ...call(1, "toolu_paris", "Paris"), ...call(2, "toolu_london", "London"), ...end("tool_use", 30)]);
}

/**
 * The test's own Anthropic backend: a tool_use for the first tool while no tool result
 * came back, a text that quotes the tool's result once it did, and a stop on the
 * client's first stop sequence when it sent some. Streamed requests get anthropicStream.
 */
function anthropicAnswer(req: RecordedRequest): Response {
  const body = req.json();
  const results = lastUserBlocks(body).filter((b) => b.type === "tool_result");
  if (body.stream === true) return anthropicStream(body, results);
  const base = { id: "msg_scripted_1", type: "message", role: "assistant", model: body.model, stop_sequence: null, usage: { input_tokens: 11, output_tokens: 5 } };
  const result = results[0];
  if (result) {
    return Response.json({ ...base, content: [{ type: "text", text: `The tool said: ${String(result.content)}` }], stop_reason: "end_turn" });
  }
  const tools = body.tools as { name: string }[] | undefined;
  if (tools?.length) {
    return Response.json({ ...base, content: [{ type: "tool_use", id: "toolu_weather_1", name: tools[0]!.name, input: { location: "Paris" } }], stop_reason: "tool_use" });
  }
  const stops = body.stop_sequences as string[] | undefined;
  if (stops?.length) return Response.json({ ...base, content: [{ type: "text", text: "one two" }], stop_reason: "stop_sequence", stop_sequence: stops[0] });
  return Response.json({ ...base, content: [{ type: "text", text: "plain" }], stop_reason: "end_turn" });
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  scripted = await startRecordingBackend(anthropicAnswer);
  proxy = await startProxy({
    config: `
x-quiet: &quiet { interval: 0s }
backends:
  - { name: claude, provider: anthropic, url: ${mock.url}, api_key: ${BACKEND_KEY}, health: *quiet }
  # the error tests' own backend: its refusals must not eject or pause the one above
  - { name: claude-errors, provider: anthropic, url: ${mock.url}, api_key: ${BACKEND_KEY}, health: *quiet, circuit: { failures: 1000 } }
  - { name: scripted, provider: anthropic, url: ${scripted.url}, api_key: ${BACKEND_KEY}, health: *quiet }
  - { name: claude-stalling, provider: anthropic, url: ${mock.url}, health: *quiet, circuit: { failures: 1000 }, timeouts: { idle: 300ms } }
models:
  - { name: claude-sonnet, targets: [{ backend: claude, model: claude-sonnet-4-5 }] }
  - { name: claude-errors, targets: [{ backend: claude-errors, model: claude-sonnet-4-5 }] }
  - { name: claude-scripted, targets: [{ backend: scripted, model: claude-scripted-upstream }] }
  - { name: claude-stalling, targets: [{ backend: claude-stalling }] }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await scripted.stop();
});

describe("whole answers", () => {
  test("a plain chat: the backend's exact text, finish_reason stop, the client's model name and usage from Anthropic's counts", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO }).withResponse();
    const end = await seen;
    expect(res.object).toBe("chat.completion");
    expect(res.id).toStartWith("msg_");
    expect(res.model).toBe("claude-sonnet");
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]!.message.role).toBe("assistant");
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage).toEqual({ prompt_tokens: end.promptTokens, completion_tokens: TOKENS, total_tokens: end.promptTokens + TOKENS, prompt_tokens_details: { cached_tokens: 0 } });
    // what the backend got: Anthropic's Messages request, with the route's upstream model
    expect(end.path).toBe("/v1/messages");
    expect(JSON.parse(end.body)).toEqual({ model: "claude-sonnet-4-5", max_tokens: 4096, messages: [{ role: "user", content: "Hello there" }] });
    expect(end.promptTokens).toBe(countPromptTokens("messages", { messages: [{ role: "user", content: "Hello there" }] }));
    const line = await proxy.accessLine(response.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, route: "claude-sonnet", backend: "claude", upstream_model: "claude-sonnet-4-5", prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend", stream: false });
  });

  test("the backend gets its own key as x-api-key and an anthropic-version; the client's key goes nowhere", async () => {
    const seen = mock.backend.nextEnd();
    await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO });
    const end = await seen;
    expect(end.headers.get("x-api-key")).toBe(BACKEND_KEY);
    expect(end.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(end.headers.get("authorization")).toBeNull();
    expect([...end.headers.values()].join("\n")).not.toContain(CLIENT_KEY);
  });

  test("cache reads and writes: prompt_tokens = input + cache read + cache write, cached_tokens = cache read, and the log says both", async () => {
    const seen = mock.backend.nextEnd();
    const { data: res, response } = await client.chat.completions
      .create({ model: "claude-sonnet", messages: HELLO }, { headers: { "x-mock-cache-read": "40", "x-mock-cache-write": "24" } })
      .withResponse();
    const end = await seen;
    expect(res.usage).toEqual({ prompt_tokens: end.promptTokens + 64, completion_tokens: TOKENS, total_tokens: end.promptTokens + 64 + TOKENS, prompt_tokens_details: { cached_tokens: 40 } });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ prompt_tokens: end.promptTokens + 64, cached_tokens: 40, cache_write_tokens: 24, usage_source: "backend" });
  });

  test("system and developer messages become Anthropic's system, and the turns reach the backend in order", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "What is two plus two?" },
      { role: "assistant", content: "Four." },
      { role: "developer", content: "Answer in digits." },
      { role: "user", content: "And three plus three?" },
    ];
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "claude-sonnet", messages });
    const end = await seen;
    const sent = JSON.parse(end.body) as Json;
    expect(sent.system).toEqual([
      { type: "text", text: "You are terse." },
      { type: "text", text: "Answer in digits." },
    ]);
    expect(sent.messages).toEqual([
      { role: "user", content: "What is two plus two?" },
      { role: "assistant", content: "Four." },
      { role: "user", content: "And three plus three?" },
    ]);
    // the prompt the backend counted, system included, is the prompt the client is told
    expect(res.usage!.prompt_tokens).toBe(countPromptTokens("messages", sent));
  });

  test("consecutive messages of one role are merged into one turn, as Anthropic requires alternation", async () => {
    const seen = mock.backend.nextEnd();
    await client.chat.completions.create({
      model: "claude-sonnet",
      messages: [
        { role: "user", content: "First part." },
        { role: "user", content: [{ type: "text", text: "Second part." }] },
      ],
    });
    const sent = JSON.parse((await seen).body) as Json;
    expect(sent.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "First part." },
          { type: "text", text: "Second part." },
        ],
      },
    ]);
  });

  test("an image as a data: URL reaches the backend as a base64 image block, an http URL as a url block", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({
      model: "claude-sonnet",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in these pictures?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}`, detail: "high" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          ],
        },
      ],
    });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    const sent = JSON.parse((await seen).body) as Json;
    expect(sent.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is in these pictures?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });

  test("stop sequences, temperature, top_p and max_completion_tokens reach the backend under Anthropic's names; a stop_sequence stop is finish_reason stop", async () => {
    const seen = scripted.next();
    const res = await client.chat.completions.create({
      model: "claude-scripted",
      messages: HELLO,
      stop: ["END", "STOP"],
      temperature: 0.4,
      top_p: 0.9,
      max_completion_tokens: 300,
    });
    const sent = (await seen).json();
    expect(sent).toMatchObject({ model: "claude-scripted-upstream", stop_sequences: ["END", "STOP"], temperature: 0.4, top_p: 0.9, max_tokens: 300 });
    expect(res.choices[0]!.message.content).toBe("one two");
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 5 });
  });

  test("a temperature above Anthropic's range is clamped to 1, a single stop string becomes a list", async () => {
    const seen = scripted.next();
    await client.chat.completions.create({ model: "claude-scripted", messages: HELLO, temperature: 1.7, stop: "END" });
    expect((await seen).json()).toMatchObject({ temperature: 1, stop_sequences: ["END"] });
  });

  test("max_tokens below the answer's length: the text cut there and finish_reason length", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, max_tokens: 3 });
    expect(JSON.parse((await seen).body).max_tokens).toBe(3);
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(3));
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.usage!.completion_tokens).toBe(3);
  });
});

describe("streams", () => {
  test("a stream with include_usage: the exact text token by token, finish_reason stop, then the usage chunk", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude-sonnet", messages: HELLO, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const deltas: string[] = [];
    const finishes: string[] = [];
    const usages: OpenAI.CompletionUsage[] = [];
    let lastChoices = -1;
    let role: string | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      expect(chunk.model).toBe("claude-sonnet");
      const c = chunk.choices[0];
      role ??= c?.delta.role;
      if (c?.delta.content) deltas.push(c.delta.content);
      if (c?.finish_reason) finishes.push(c.finish_reason);
      if (chunk.usage) usages.push(chunk.usage);
      lastChoices = chunk.choices.length;
    }
    const end = await seen;
    expect(role).toBe("assistant");
    expect(deltas).toHaveLength(TOKENS);
    expect(deltas.join("")).toBe(mockCompletionText(TOKENS));
    expect(finishes).toEqual(["stop"]);
    // the usage chunk comes last, with no choices, as OpenAI sends it
    expect(usages).toEqual([{ prompt_tokens: end.promptTokens, completion_tokens: TOKENS, total_tokens: end.promptTokens + TOKENS, prompt_tokens_details: { cached_tokens: 0 } }]);
    expect(lastChoices).toBe(0);
    const sent = JSON.parse(end.body) as Json;
    expect(sent.stream).toBe(true);
    expect(sent.stream_options).toBeUndefined();
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("a stream without include_usage has no usage anywhere, and the log has the backend's exact counts", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) {
      expect("usage" in chunk).toBe(false);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const end = await seen;
    expect(text).toBe(mockCompletionText(TOKENS));
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ stream: true, prompt_tokens: end.promptTokens, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("a streamed answer with cache reads and writes: the usage chunk counts them into prompt_tokens, the log has cache_write_tokens", async () => {
    const seen = mock.backend.nextEnd();
    const { data: stream, response } = await client.chat.completions
      .create(
        { model: "claude-sonnet", messages: HELLO, stream: true, stream_options: { include_usage: true } },
        { headers: { "x-mock-cache-read": "100", "x-mock-cache-write": "30" } },
      )
      .withResponse();
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const end = await seen;
    expect(usage).toEqual({ prompt_tokens: end.promptTokens + 130, completion_tokens: TOKENS, total_tokens: end.promptTokens + 130 + TOKENS, prompt_tokens_details: { cached_tokens: 100 } });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ prompt_tokens: end.promptTokens + 130, cached_tokens: 100, cache_write_tokens: 30, completion_tokens: TOKENS });
  });

  test("max_tokens on a stream: the text cut there and finish_reason length", async () => {
    const stream = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, max_tokens: 2, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(mockCompletionText(2));
    expect(finish).toBe("length");
  });

  test("Anthropic thinking (passed as extra_body) streams as reasoning_content before the answer", async () => {
    const seen = mock.backend.nextEnd();
    const stream = await client.chat.completions.create(
      // thinking is Anthropic's own field, which OpenAI SDK users send as an extra body member
      { model: "claude-sonnet", messages: HELLO, stream: true, stream_options: { include_usage: true }, thinking: { type: "enabled", budget_tokens: 1024 } } as OpenAI.ChatCompletionCreateParamsStreaming,
      { headers: { "x-mock-thinking": "4" } },
    );
    let reasoning = "";
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
      if (delta?.reasoning_content) {
        expect(text).toBe("");
        reasoning += delta.reasoning_content;
      }
      text += delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(JSON.parse((await seen).body).thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
    expect(reasoning).toBe(mockCompletionText(4));
    expect(text).toBe(mockCompletionText(TOKENS));
    // thinking tokens are output tokens
    expect(usage!.completion_tokens).toBe(TOKENS + 4);
  });
});

describe("tools", () => {
  test("a tool call in a whole answer: name and arguments exact, content null, finish_reason tool_calls; the tool reaches the backend in Anthropic's form", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, tools: [WEATHER_TOOL], tool_choice: "required" });
    const msg = res.choices[0]!.message;
    expect(msg.content).toBeNull();
    expect(msg.tool_calls).toHaveLength(1);
    const call = msg.tool_calls![0]!;
    if (call.type !== "function") throw new Error(`not a function call: ${JSON.stringify(call)}`);
    expect(call.id).toStartWith("toolu_");
    expect(call.function.name).toBe("get_weather");
    expect(call.function.arguments).toBe(JSON.stringify({ location: mockCompletionText(TOKENS) }));
    expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    const sent = JSON.parse((await seen).body) as Json;
    expect(sent.tools).toEqual([{ name: "get_weather", description: "Weather at a place", input_schema: WEATHER_TOOL.function.parameters }]);
    expect(sent.tool_choice).toEqual({ type: "any" });
  });

  test("a streamed tool call, assembled by the SDK's chat.completions.stream helper and by hand from the deltas", async () => {
    const { data: raw, response } = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, tools: [WEATHER_TOOL], stream: true }).withResponse();
    let name = "";
    let args = "";
    let id = "";
    let finish: string | null = null;
    for await (const chunk of raw) {
      const c = chunk.choices[0];
      for (const call of c?.delta.tool_calls ?? []) {
        expect(call.index).toBe(0);
        id += call.id ?? "";
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
      finish = c?.finish_reason ?? finish;
    }
    expect(id).toStartWith("toolu_");
    expect(name).toBe("get_weather");
    expect(args).toBe(JSON.stringify({ location: mockCompletionText(TOKENS) }));
    expect(finish).toBe("tool_calls");
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, completion_tokens: TOKENS, usage_source: "backend" });

    const runner = client.chat.completions.stream({ model: "claude-sonnet", messages: HELLO, tools: [WEATHER_TOOL] });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: mockCompletionText(TOKENS) });
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("the second turn: the assistant's tool calls and the tool's result reach the backend as tool_use and tool_result blocks with one id", async () => {
    const seen = mock.backend.nextEnd();
    const res = await client.chat.completions.create({
      model: "claude-sonnet",
      messages: [
        { role: "user", content: "What is the weather in Paris?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_7f:1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        { role: "tool", tool_call_id: "call_7f:1", content: "18 degrees and sunny" },
      ],
      tools: [WEATHER_TOOL],
      // the fake model calls a tool whenever it may: here it must answer
      tool_choice: "none",
    });
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.choices[0]!.finish_reason).toBe("stop");
    const sent = JSON.parse((await seen).body) as Json;
    // ":" is not allowed in Anthropic ids: it becomes "_", the same in the call and its result
    expect(sent.messages).toEqual([
      { role: "user", content: "What is the weather in Paris?" },
      { role: "assistant", content: [{ type: "tool_use", id: "call_7f_1", name: "get_weather", input: { location: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_7f_1", content: "18 degrees and sunny" }] },
    ]);
    expect(sent.tool_choice).toEqual({ type: "none" });
  });

  test("the SDK's runTools loop: the call, the tool run by the SDK, its result sent back, the final answer", async () => {
    const calls: unknown[] = [];
    const before = scripted.requests.length;
    const runner = client.chat.completions.runTools({
      model: "claude-scripted",
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Weather at a place",
            parameters: WEATHER_TOOL.function.parameters,
            parse: JSON.parse,
            function: (args: unknown) => {
              calls.push(args);
              return "18 degrees and sunny";
            },
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe("The tool said: 18 degrees and sunny");
    expect(calls).toEqual([{ location: "Paris" }]);
    const turns = scripted.requests.slice(before).map((r) => r.json());
    expect(turns).toHaveLength(2);
    expect(turns[1]!.messages).toEqual([
      { role: "user", content: "What is the weather in Paris?" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_weather_1", name: "get_weather", input: { location: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_weather_1", content: "18 degrees and sunny" }] },
    ]);
  });
  test("a streamed answer with text and then two tool calls (Claude's usual turn): the text as content, the calls as tool_calls 0 and 1, run by the SDK's streaming runTools", async () => {
    const cities: string[] = [];
    const before = scripted.requests.length;
    const runner = client.chat.completions.runTools({
      model: "claude-scripted",
      stream: true,
      messages: [{ role: "user", content: "Weather in Paris and London?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Weather at a place",
            parameters: WEATHER_TOOL.function.parameters,
            parse: JSON.parse,
            function: (args: { location: string }) => {
              cities.push(args.location);
              return `sunny in ${args.location}`;
            },
          },
        },
      ],
    });
    const completions: OpenAI.ChatCompletion[] = [];
    runner.on("chatCompletion", (c) => completions.push(c));
    expect(await runner.finalContent()).toBe("The tools said: sunny in Paris; sunny in London");
    expect(cities).toEqual(["Paris", "London"]);
    // the first turn, as the SDK assembled it from the translated chunks
    const first = completions[0]!.choices[0]!;
    expect(first.finish_reason).toBe("tool_calls");
    expect(first.message.content).toBe("Let me check both cities.");
    expect(first.message.tool_calls!.map((c) => (c.type === "function" ? [c.id, c.function.name, c.function.arguments] : null))).toEqual([
      ["toolu_paris", "get_weather", '{"location": "Paris"}'],
      ["toolu_london", "get_weather", '{"location": "London"}'],
    ]);
    // the second turn carries the text, both calls and both results, in Anthropic's form
    const turns = scripted.requests.slice(before).map((r) => r.json());
    expect(turns).toHaveLength(2);
    expect(turns[1]!.messages).toEqual([
      { role: "user", content: "Weather in Paris and London?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check both cities." },
          { type: "tool_use", id: "toolu_paris", name: "get_weather", input: { location: "Paris" } },
          { type: "tool_use", id: "toolu_london", name: "get_weather", input: { location: "London" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_paris", content: "sunny in Paris" },
          { type: "tool_result", tool_use_id: "toolu_london", content: "sunny in London" },
        ],
      },
    ]);
  });
});

describe("errors", () => {
  const cases = [
    { status: 400, cls: OpenAI.BadRequestError, type: "invalid_request_error", code: "invalid_request_error" },
    { status: 401, cls: OpenAI.AuthenticationError, type: "authentication_error", code: "authentication_error" },
    { status: 429, cls: OpenAI.RateLimitError, type: "rate_limit_error", code: "rate_limit_error" },
    { status: 529, cls: OpenAI.InternalServerError, type: "server_error", code: "overloaded_error" },
  ];
  for (const c of cases) {
    test(`a backend ${c.status} is raised by the SDK as ${c.cls.name} with an OpenAI-shaped error (type ${c.type}, code ${c.code})`, async () => {
      const err = await client.chat.completions
        .create({ model: "claude-errors", messages: HELLO }, { headers: { "x-mock-status": String(c.status), "x-mock-retry-after": "0" } })
        .then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(c.cls);
      const e = err as OpenAIApiError;
      expect(e.status).toBe(c.status);
      expect(e.type).toBe(c.type);
      expect(e.code).toBe(c.code);
      expect((e.error as { message: string }).message).toContain("mock error");
      const line = await proxy.accessLine(e.headers!.get("x-request-id")!);
      expect(line).toMatchObject({ status: c.status, error_code: `upstream_http_${c.status}`, backend: "claude-errors", usage_source: "none" });
    });
  }

  test("a backend refusal of a stream is raised by create() before any chunk", async () => {
    const err = await client.chat.completions.create({ model: "claude-errors", messages: HELLO, stream: true }, { headers: { "x-mock-status": "529" } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as OpenAIApiError).code).toBe("overloaded_error");
  });

  test("an error event in the middle of the backend's stream is raised by the SDK's iterator, after the text that came before it", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude-errors", messages: HELLO, stream: true }, { headers: { "x-mock-error-after": "3" } })
      .withResponse();
    expect(response.status).toBe(200);
    const { text, error: err } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(3));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as OpenAIApiError).type).toBe("server_error");
    expect((err as OpenAIApiError).code).toBe("overloaded_error");
    // recorded as what it was: a 200 whose backend failed in the stream
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, stream: true, backend: "claude-errors", error_code: "upstream_stream_error" });
    expect(await proxy.waitForLog((l) => l.msg === "the backend reported an error in its stream" && l.request_id === response.headers.get("x-request-id"))).toMatchObject({
      backend: "claude-errors",
      backend_error: "overloaded_error",
    });
  });

  test("a backend that stalls mid-stream: the gateway's idle timeout reaches the SDK as an OpenAI error event (timeout_error, upstream_idle_timeout)", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude-stalling", messages: HELLO, stream: true }, { headers: { "x-mock-hang-after": "2" } })
      .withResponse();
    const { text, error: err } = await drainChat(stream);
    expect(text).toBe(mockCompletionText(2));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as OpenAIApiError).type).toBe("timeout_error");
    expect((err as OpenAIApiError).code).toBe("upstream_idle_timeout");
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, error_code: "upstream_idle_timeout", backend: "claude-stalling" });
  });

  test("the same failure on a whole answer is the backend's 529: InternalServerError, code overloaded_error", async () => {
    const err = await client.chat.completions.create({ model: "claude-errors", messages: HELLO }, { headers: { "x-mock-error-after": "3" } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as OpenAIApiError).status).toBe(529);
    expect((err as OpenAIApiError).code).toBe("overloaded_error");
  });

  test("what Anthropic cannot express (n: 2, logprobs) is a 400 invalid_request naming the parameter, and never reaches the backend", async () => {
    const before = mock.backend.stats.requests;
    const err = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, n: 2 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as OpenAIApiError;
    expect(e.status).toBe(400);
    expect(e.type).toBe("invalid_request_error");
    expect(e.code).toBe("invalid_request");
    expect(e.param).toBe("n");
    expect(e.message).toContain("n");
    expect(await proxy.accessLine(e.headers!.get("x-request-id")!)).toMatchObject({ status: 400, error_code: "invalid_request" });

    const streamed = await client.chat.completions.create({ model: "claude-sonnet", messages: HELLO, logprobs: true, stream: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(streamed).toBeInstanceOf(OpenAI.BadRequestError);
    expect((streamed as OpenAIApiError).param).toBe("logprobs");
    expect(mock.backend.stats.requests).toBe(before);
  });
});
