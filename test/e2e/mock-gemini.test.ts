// The mock's Gemini API on a real socket, read with plain fetch and an SSE parser (no
// Gemini SDK is installed), then the OpenAI → Gemini translation driven against it by
// the official openai client.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { countPromptTokens, mockCompletionText } from "../../src/mock/text.ts";
import { openAiToGemini } from "../../src/providers/openai-to-gemini.ts";
import type { EncodeContext } from "../../src/providers/types.ts";
import { readUntilFailure } from "../helpers/sse.ts";

let server: MockServer;
const TOKENS = 6;

beforeAll(async () => {
  server = await startMockServer({ tokens: TOKENS, delayMs: 0 });
});

afterAll(async () => {
  await server.stop();
});

type Json = Record<string, unknown>;

interface GeminiAnswer {
  candidates?: { content: { parts: Json[]; role: string }; finishReason?: string; index: number }[];
  usageMetadata?: Record<string, number | unknown[]>;
  modelVersion: string;
  responseId: string;
}

const contents = [{ role: "user", parts: [{ text: "write a haiku about proxies" }] }];
const systemInstruction = { parts: [{ text: "you are a poet" }] };
const request = { contents, systemInstruction };
const promptTokens = countPromptTokens("gemini", request);

const weatherTools = [
  {
    functionDeclarations: [
      { name: "get_time", parameters: { type: "OBJECT", properties: { zone: { type: "STRING" } } } },
      { name: "get_weather", description: "weather for a place", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] } },
    ],
  },
];

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "AIza-test", ...headers },
    body: JSON.stringify(body),
  });
}

const generate = (model: string, body: unknown, headers?: Record<string, string>) => post(`/v1beta/models/${model}:generateContent`, body, headers);
const streamGenerate = (model: string, body: unknown, headers?: Record<string, string>) => post(`/v1beta/models/${model}:streamGenerateContent?alt=sse`, body, headers);

/** The events of a Gemini SSE body: each must end in CRLF CRLF, as Google sends them. */
function geminiEvents(text: string): Json[] {
  expect(text.endsWith("\r\n\r\n")).toBe(true);
  return text
    .split("\r\n\r\n")
    .filter((e) => e !== "")
    .map((e) => {
      expect(e.startsWith("data: ")).toBe(true);
      return JSON.parse(e.slice(6)) as Json;
    });
}

function textOf(answers: GeminiAnswer[]): string {
  let text = "";
  for (const a of answers) for (const p of a.candidates?.[0]?.content.parts ?? []) if (typeof p.text === "string" && p.thought !== true) text += p.text;
  return text;
}

describe("generateContent", () => {
  test("a text answer: the model from the path, STOP, and exact usageMetadata", async () => {
    const res = await generate("gemini-2.5-flash", request);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const a = (await res.json()) as GeminiAnswer;
    expect(a.candidates).toEqual([{ content: { parts: [{ text: mockCompletionText(TOKENS) }], role: "model" }, finishReason: "STOP", index: 0 }]);
    expect(a.usageMetadata).toEqual({
      promptTokenCount: promptTokens,
      candidatesTokenCount: TOKENS,
      totalTokenCount: promptTokens + TOKENS,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }],
    });
    expect(a.modelVersion).toBe("gemini-2.5-flash");
    expect(a.responseId).toStartWith("mock");
  });

  test("maxOutputTokens below the answer's length finishes with MAX_TOKENS", async () => {
    const a = (await (await generate("g", { contents, generationConfig: { maxOutputTokens: 2 } })).json()) as GeminiAnswer;
    expect(a.candidates?.[0]?.finishReason).toBe("MAX_TOKENS");
    expect(a.candidates?.[0]?.content.parts).toEqual([{ text: mockCompletionText(2) }]);
    expect(a.usageMetadata?.candidatesTokenCount).toBe(2);
  });

  test("with tools the answer is a functionCall whose args fill the declaration's first required property", async () => {
    const a = (await (await generate("g", { contents, tools: weatherTools, toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } } })).json()) as GeminiAnswer;
    expect(a.candidates?.[0]).toEqual({
      content: { parts: [{ functionCall: { name: "get_weather", args: { city: mockCompletionText(TOKENS) } } }], role: "model" },
      finishReason: "STOP",
      index: 0,
    });
    const first = (await (await generate("g", { contents, tools: weatherTools })).json()) as GeminiAnswer;
    expect(first.candidates?.[0]?.content.parts[0]).toMatchObject({ functionCall: { name: "get_time", args: { zone: mockCompletionText(TOKENS) } } });
    const none = (await (await generate("g", { contents, tools: weatherTools, toolConfig: { functionCallingConfig: { mode: "NONE" } } })).json()) as GeminiAnswer;
    expect(none.candidates?.[0]?.content.parts).toEqual([{ text: mockCompletionText(TOKENS) }]);
  });

  test("x-mock-thinking: thoughtsTokenCount, thought parts when includeThoughts asks, a signed function call", async () => {
    const headers = { "x-mock-thinking": "4" };
    const plain = (await (await generate("g", request, headers)).json()) as GeminiAnswer;
    expect(plain.candidates?.[0]?.content.parts).toEqual([{ text: mockCompletionText(TOKENS) }]);
    expect(plain.usageMetadata).toMatchObject({ thoughtsTokenCount: 4, totalTokenCount: promptTokens + TOKENS + 4 });
    const shown = (await (await generate("g", { ...request, generationConfig: { thinkingConfig: { includeThoughts: true } } }, headers)).json()) as GeminiAnswer;
    expect(shown.candidates?.[0]?.content.parts).toEqual([{ text: mockCompletionText(4), thought: true }, { text: mockCompletionText(TOKENS) }]);
    const call = (await (await generate("g", { contents, tools: weatherTools }, headers)).json()) as GeminiAnswer;
    expect(typeof call.candidates?.[0]?.content.parts[0]?.thoughtSignature).toBe("string");
  });

  test("x-mock-cache-read reports cached tokens inside promptTokenCount", async () => {
    const a = (await (await generate("g", request, { "x-mock-cache-read": "50" })).json()) as GeminiAnswer;
    expect(a.usageMetadata).toMatchObject({ promptTokenCount: promptTokens + 50, cachedContentTokenCount: 50, totalTokenCount: promptTokens + 50 + TOKENS });
  });

  test("x-mock-usage: 0 leaves usageMetadata out; x-mock-gzip compresses", async () => {
    const a = (await (await generate("g", request, { "x-mock-usage": "0" })).json()) as GeminiAnswer;
    expect(a.usageMetadata).toBeUndefined();
    const res = await fetch(`${server.url}/v1beta/models/g:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-gzip": "1" },
      body: JSON.stringify(request),
      decompress: false,
    });
    expect(res.headers.get("content-encoding")).toBe("gzip");
    const body = JSON.parse(gunzipSync(new Uint8Array(await res.arrayBuffer())).toString()) as GeminiAnswer;
    expect(textOf([body])).toBe(mockCompletionText(TOKENS));
  });

  test("countTokens counts like generateContent, for {contents} and {generateContentRequest}", async () => {
    expect(await (await post("/v1beta/models/g:countTokens", request)).json()).toEqual({ totalTokens: promptTokens, promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }] });
    expect(((await (await post("/v1beta/models/g:countTokens", { generateContentRequest: { model: "models/g", ...request } })).json()) as Json).totalTokens).toBe(promptTokens);
  });

  test("the key may come as x-goog-api-key or ?key= (the mock checks neither); v1 and models/ paths work too", async () => {
    const res = await fetch(`${server.url}/v1/models/gemini-2.0-flash:generateContent?key=AIza-test`, { method: "POST", body: JSON.stringify(request) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as GeminiAnswer).modelVersion).toBe("gemini-2.0-flash");
  });
});

describe("streamGenerateContent?alt=sse", () => {
  test("one CRLF-framed event per token with cumulative usage; the last has finishReason and the final counts", async () => {
    const ended = server.backend.nextEnd();
    const res = await streamGenerate("gemini-2.5-flash", request);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = geminiEvents(await res.text()) as unknown as GeminiAnswer[];
    expect(events).toHaveLength(TOKENS + 1);
    expect(textOf(events)).toBe(mockCompletionText(TOKENS));
    expect(events.map((e) => e.usageMetadata?.candidatesTokenCount)).toEqual([1, 2, 3, 4, 5, 6, 6]);
    const last = events.at(-1)!;
    expect(last.candidates?.[0]).toEqual({ content: { parts: [{ text: "" }], role: "model" }, finishReason: "STOP", index: 0 });
    expect(last.usageMetadata).toMatchObject({ promptTokenCount: promptTokens, candidatesTokenCount: TOKENS, totalTokenCount: promptTokens + TOKENS });
    for (const e of events) expect([e.modelVersion, e.responseId]).toEqual(["gemini-2.5-flash", events[0]!.responseId]);
    const end = await ended;
    expect(end).toMatchObject({ path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", stream: true, model: "gemini-2.5-flash", completionTokensSent: TOKENS, status: 200 });
    expect(end.headers.get("x-goog-api-key")).toBe("AIza-test");
  });

  test("a function call streams whole, in one event", async () => {
    const events = geminiEvents(await (await streamGenerate("g", { contents, tools: weatherTools, toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } } })).text()) as unknown as GeminiAnswer[];
    expect(events).toHaveLength(2);
    expect(events[0]!.candidates?.[0]?.content.parts).toEqual([{ functionCall: { name: "get_weather", args: { city: mockCompletionText(TOKENS) } } }]);
    expect(events[1]!.candidates?.[0]?.finishReason).toBe("STOP");
  });

  test("thought parts stream first when includeThoughts asks", async () => {
    const body = { ...request, generationConfig: { thinkingConfig: { includeThoughts: true } } };
    const events = geminiEvents(await (await streamGenerate("g", body, { "x-mock-thinking": "3" })).text()) as unknown as GeminiAnswer[];
    expect(events[0]!.candidates?.[0]?.content.parts).toEqual([{ text: mockCompletionText(3), thought: true }]);
    expect(textOf(events)).toBe(mockCompletionText(TOKENS));
    expect(events.at(-1)!.usageMetadata?.thoughtsTokenCount).toBe(3);
  });

  test("without alt=sse the JSON-array form is refused with a 400 that says to add it", async () => {
    const res = await post("/v1beta/models/g:streamGenerateContent", request);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    expect(body.error.message).toContain("alt=sse");
  });

  test("x-mock-error-after: N streams N tokens, then Gemini's error event, and the stream ends", async () => {
    const res = await streamGenerate("g", request, { "x-mock-error-after": "2" });
    const events = geminiEvents(await res.text());
    expect(events).toHaveLength(3);
    expect(textOf(events.slice(0, 2) as unknown as GeminiAnswer[])).toBe(mockCompletionText(2));
    expect(events[2]).toEqual({ error: { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" } });
  });

  test("x-mock-drop-after: N sends N events, then resets the connection", async () => {
    const { text, error } = await readUntilFailure(await streamGenerate("g", request, { "x-mock-drop-after": "3" }));
    expect(error).not.toBeNull();
    expect(textOf(geminiEvents(text) as unknown as GeminiAnswer[])).toBe(mockCompletionText(3));
  });
});

describe("errors in Gemini's shape", () => {
  test("x-mock-status answers google.rpc.Status bodies; a 429 carries RetryInfo in its body and, as Google's, no Retry-After header", async () => {
    const res = await generate("g", request, { "x-mock-status": "429", "x-mock-retry-after": "7" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await res.json()).toEqual({
      error: { code: 429, message: "mock error", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }] },
    });
    for (const [status, name] of [
      [400, "INVALID_ARGUMENT"],
      [403, "PERMISSION_DENIED"],
      [404, "NOT_FOUND"],
      [500, "INTERNAL"],
      [503, "UNAVAILABLE"],
      [504, "DEADLINE_EXCEEDED"],
    ] as const) {
      const r = await streamGenerate("g", request, { "x-mock-status": String(status) });
      expect(r.status).toBe(status);
      expect(((await r.json()) as { error: Json }).error).toMatchObject({ code: status, status: name });
    }
  });

  test("a request without contents, an unknown method and x-mock-error-after on a whole answer", async () => {
    const empty = await generate("g", { contents: [] });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: Json }).error).toMatchObject({ status: "INVALID_ARGUMENT", message: "* GenerateContentRequest.contents: contents is not specified" });
    const unknown = await post("/v1beta/models/g:embedEverything", request);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: Json }).error).toMatchObject({ code: 404, status: "NOT_FOUND" });
    const overloaded = await generate("g", request, { "x-mock-error-after": "1" });
    expect(overloaded.status).toBe(503);
    expect(((await overloaded.json()) as { error: Json }).error).toMatchObject({ status: "UNAVAILABLE" });
  });
});

describe("the OpenAI → Gemini translation against the mock, through the official openai client", () => {
  const UPSTREAM = "gemini-2.5-flash";

  /** What the gateway will do, in a few lines: encode, send to the mock, translate the answer back. */
  async function viaGemini(_url: string | URL | Request, init?: RequestInit): Promise<Response> {
    const body = JSON.parse(String(init?.body)) as Json;
    const stream = body.stream === true;
    const so = body.stream_options as Json | undefined;
    const ctx: EncodeContext = { upstreamModel: UPSTREAM, clientModel: String(body.model), stream, created: 1_700_000_000, includeUsage: so?.include_usage === true };
    const enc = openAiToGemini.encodeRequest(body, ctx);
    const headers = new Headers({ "content-type": "application/json", "x-goog-api-key": "AIza-test" });
    for (const [k, v] of new Headers(init?.headers)) if (k.startsWith("x-mock-")) headers.set(k, v);
    const res = await fetch(`${server.url}${enc.path}`, { method: "POST", headers, body: JSON.stringify(enc.body) });
    const json = { "content-type": "application/json" };
    if (!res.ok) return new Response(openAiToGemini.decodeError(res.status, await res.text(), "mock-gemini"), { status: res.status, headers: json });
    if (!stream) return new Response(openAiToGemini.decodeResponse(await res.text(), ctx).body, { headers: json });
    const t = openAiToGemini.streamTranslator(ctx);
    const out = (res.body as ReadableStream<Uint8Array>).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          const b = t.push(chunk);
          if (b.length > 0) c.enqueue(b);
        },
        flush(c) {
          const b = t.flush();
          if (b.length > 0) c.enqueue(b);
        },
      }),
    );
    return new Response(out, { headers: { "content-type": "text/event-stream" } });
  }

  let client: OpenAI;
  beforeAll(() => {
    client = new OpenAI({ apiKey: "sk-test", baseURL: "http://gateway.invalid/v1", maxRetries: 0, fetch: viaGemini });
  });

  const messages = [
    { role: "system" as const, content: "you are a poet" },
    { role: "user" as const, content: "write a haiku about proxies" },
  ];
  const prompt = countPromptTokens("gemini", request);
  const tools = [
    { type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false } } },
  ];

  test("a whole answer: text, stop, the client's model name and exact usage", async () => {
    const c = await client.chat.completions.create({ model: "my-alias", messages });
    expect(c.model).toBe("my-alias");
    expect(c.choices[0]?.message.content).toBe(mockCompletionText(TOKENS));
    expect(c.choices[0]?.finish_reason).toBe("stop");
    expect(c.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: TOKENS, total_tokens: prompt + TOKENS });
  });

  test("a stream with include_usage: one delta per Gemini event, the usage chunk last; thinking counts as completion", async () => {
    const stream = await client.chat.completions.create(
      { model: "m", messages, stream: true, stream_options: { include_usage: true } },
      { headers: { "x-mock-thinking": "5", "x-mock-cache-read": "10" } },
    );
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(mockCompletionText(TOKENS));
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: prompt + 10,
      completion_tokens: TOKENS + 5,
      total_tokens: prompt + 10 + TOKENS + 5,
      prompt_tokens_details: { cached_tokens: 10 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
  });

  test("a tool round trip: the call comes back with an id, its result goes to Gemini as a functionResponse", async () => {
    const first = await client.chat.completions.stream({ model: "m", messages, tools, tool_choice: "required" }, { headers: { "x-mock-thinking": "1" } }).finalChatCompletion();
    const call = first.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: mockCompletionText(TOKENS) });
    const ended = server.backend.nextEnd();
    const second = await client.chat.completions.create({
      model: "m",
      messages: [...messages, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: call.id, content: "sunny" }],
      tools,
    });
    expect(second.choices[0]?.finish_reason).toBe("tool_calls");
    const sent = JSON.parse((await ended).body) as { contents: { role: string; parts: Json[] }[] };
    expect(sent.contents.slice(1)).toEqual([
      { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: mockCompletionText(TOKENS) } }, thoughtSignature: expect.any(String) }] },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "sunny" } } }] },
    ]);
    // The signature the mock made for the call is the one that came back.
    expect(sent.contents[1]!.parts[0]!.thoughtSignature).not.toBe("skip_thought_signature_validator");
  });

  test("Gemini errors reach the client as OpenAI APIErrors with the status and a meaningful code", async () => {
    const err = await client.chat.completions.create({ model: "m", messages }, { headers: { "x-mock-status": "429" } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("rate_limit_exceeded");
    const mid = await (async () => {
      const stream = await client.chat.completions.create({ model: "m", messages, stream: true }, { headers: { "x-mock-error-after": "2" } });
      let text = "";
      try {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
      } catch (e) {
        return { text, e };
      }
      return { text, e: null };
    })();
    expect(mid.text).toBe(mockCompletionText(2));
    expect(mid.e).toBeInstanceOf(OpenAI.APIError);
    expect((mid.e as InstanceType<typeof OpenAI.APIError>).code).toBe("unavailable");
  });
});
