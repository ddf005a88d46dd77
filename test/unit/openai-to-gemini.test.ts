// The OpenAI → Gemini translation, read as a specification: requests in OpenAI's form
// become Gemini requests, Gemini answers (recorded shapes under test/fixtures/gemini/)
// become what an OpenAI client expects, whole or streamed, and errors keep their meaning.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { FOREIGN_THOUGHT_SIGNATURE, geminiPath } from "../../src/providers/gemini-request.ts";
import { geminiRetryDelaySeconds } from "../../src/providers/gemini-response.ts";
import { geminiSchema } from "../../src/providers/gemini-schema.ts";
import { signatureFromToolCallId, toolCallId } from "../../src/providers/gemini-tool-ids.ts";
import { openAiToGemini } from "../../src/providers/openai-to-gemini.ts";
import { TranslationError, type EncodeContext, type StreamTranslator } from "../../src/providers/types.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/gemini/", import.meta.url));
const fixture = (name: string): string => readFileSync(FIXTURES + name, "utf8");

type Json = Record<string, unknown>;

function ctx(over: Partial<EncodeContext> = {}): EncodeContext {
  return { upstreamModel: "gemini-2.5-flash", clientModel: "my-model", stream: false, created: 1_700_000_000, includeUsage: false, ...over };
}

function encode(body: Json, c: EncodeContext = ctx()): Json {
  return openAiToGemini.encodeRequest({ model: "my-model", ...body }, c).body;
}

function translationError(fn: () => unknown): TranslationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TranslationError) return err;
    throw err;
  }
  throw new Error("expected a TranslationError");
}

const decoder = new TextDecoder();

/** Feeds `bytes` to a fresh translator in the given pieces and returns everything it wrote. */
function runStream(bytes: Uint8Array, cuts: number[], c: EncodeContext = ctx({ stream: true })): { text: string; t: StreamTranslator } {
  const t = openAiToGemini.streamTranslator(c);
  let text = "";
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    text += decoder.decode(t.push(bytes.subarray(from, cut)), { stream: true });
    from = cut;
  }
  text += decoder.decode(t.flush());
  return { text, t };
}

/** Cut points for: whole, byte by byte, and seeded random pieces. */
function splits(n: number): number[][] {
  const byByte = Array.from({ length: n - 1 }, (_, i) => i + 1);
  const random: number[][] = [];
  let seed = 7;
  for (let r = 0; r < 20; r++) {
    const cuts: number[] = [];
    let at = 0;
    for (;;) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      at += 1 + (seed % 40);
      if (at >= n) break;
      cuts.push(at);
    }
    random.push(cuts);
  }
  return [[], byByte, ...random];
}

function dataEvents(text: string): string[] {
  return text
    .split("\n\n")
    .filter((e) => e !== "")
    .map((e) => {
      expect(e.startsWith("data: ")).toBe(true);
      return e.slice(6);
    });
}

describe("the upstream path", () => {
  test("is generateContent or streamGenerateContent?alt=sse under /v1beta/models, the model URL-encoded", () => {
    expect(geminiPath("gemini-2.5-flash", false)).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(geminiPath("gemini-2.5-flash", true)).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    expect(geminiPath("a b/c?", false)).toBe("/v1beta/models/a%20b%2Fc%3F:generateContent");
    expect(geminiPath("models/gemini-2.0-flash", false)).toBe("/v1beta/models/gemini-2.0-flash:generateContent");
    expect(geminiPath("tunedModels/my-tune", true)).toBe("/v1beta/tunedModels/my-tune:streamGenerateContent?alt=sse");
    expect(openAiToGemini.encodeRequest({ model: "x", messages: [{ role: "user", content: "hi" }] }, ctx({ stream: true, upstreamModel: "gemini-3-pro-preview" })).path).toBe(
      "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
    );
  });
});

describe("requests", () => {
  test("system and developer messages become the system instruction; user and assistant turns alternate as user and model", () => {
    const body = encode({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Bonjour" },
        { role: "user", content: [{ type: "text", text: "Why" }, { type: "text", text: " so?" }] },
      ],
    });
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: "Be brief." }, { text: "Answer in French." }] },
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ text: "Bonjour" }] },
        { role: "user", parts: [{ text: "Why" }, { text: " so?" }] },
      ],
    });
  });

  test("consecutive messages of one role are merged into one turn; empty ones are left out", () => {
    const body = encode({
      messages: [
        { role: "user", content: "one" },
        { role: "user", content: "two" },
        { role: "assistant", content: "" },
        { role: "user", content: "three" },
      ],
    });
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "one" }, { text: "two" }, { text: "three" }] }]);
  });

  test("images, audio and files: data URLs inline, http URLs by reference with the MIME type their extension names", () => {
    const body = encode({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.JPG?size=large" } },
            { type: "image_url", image_url: { url: "https://example.com/render" } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
            { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } },
          ],
        },
      ],
    });
    expect(body.contents).toEqual([
      {
        role: "user",
        parts: [
          { text: "what is this?" },
          { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
          { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/cat.JPG?size=large" } },
          { fileData: { fileUri: "https://example.com/render" } },
          { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } },
          { inlineData: { mimeType: "application/pdf", data: "JVBERi0=" } },
        ],
      },
    ]);
  });

  test("sampling parameters map to generationConfig", () => {
    const body = encode({
      messages: [{ role: "user", content: "hi" }],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      max_tokens: 100,
      stop: ["END", "STOP"],
      n: 2,
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      user: "someone",
      parallel_tool_calls: true,
      stream_options: { include_usage: true },
    });
    expect(body.generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 100,
      stopSequences: ["END", "STOP"],
      candidateCount: 2,
      seed: 42,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
    });
  });

  test("max_completion_tokens wins over max_tokens; a stop string is one stop sequence; n: 1 sends nothing", () => {
    const body = encode({ messages: [{ role: "user", content: "hi" }], max_completion_tokens: 50, max_tokens: 10, stop: "\n\n", n: 1 });
    expect(body.generationConfig).toEqual({ maxOutputTokens: 50, stopSequences: ["\n\n"] });
    expect(encode({ messages: [{ role: "user", content: "hi" }] }).generationConfig).toBeUndefined();
  });

  test("response_format json_object and json_schema set the JSON MIME type and the (converted) schema", () => {
    const json = encode({ messages: [{ role: "user", content: "hi" }], response_format: { type: "json_object" } });
    expect(json.generationConfig).toEqual({ responseMimeType: "application/json" });
    const schema = encode({
      messages: [{ role: "user", content: "hi" }],
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "person",
          strict: true,
          schema: { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false },
        },
      },
    });
    expect(schema.generationConfig).toEqual({
      responseMimeType: "application/json",
      responseSchema: { type: "OBJECT", properties: { name: { type: "STRING" }, age: { type: "INTEGER" } }, required: ["name", "age"] },
    });
    expect(encode({ messages: [{ role: "user", content: "hi" }], response_format: { type: "text" } }).generationConfig).toBeUndefined();
  });

  test("reasoning_effort becomes the thinking budget Google's OpenAI endpoint uses for it", () => {
    const budget = (effort: string): unknown => (encode({ messages: [{ role: "user", content: "hi" }], reasoning_effort: effort }).generationConfig as Json).thinkingConfig;
    expect(budget("none")).toEqual({ thinkingBudget: 0 });
    expect(budget("low")).toEqual({ thinkingBudget: 1024 });
    expect(budget("medium")).toEqual({ thinkingBudget: 8192 });
    expect(budget("high")).toEqual({ thinkingBudget: 24576 });
  });

  test("tools become function declarations with Gemini's schema subset; tool_choice becomes functionCallingConfig", () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather for a city",
          strict: true,
          parameters: {
            $schema: "http://json-schema.org/draft-07/schema#",
            type: "object",
            properties: { city: { type: "string", format: "uri" }, unit: { type: ["string", "null"], enum: ["celsius", "fahrenheit"] } },
            required: ["city", "country"],
            additionalProperties: false,
          },
        },
      },
      { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
    ];
    const base = { messages: [{ role: "user", content: "hi" }], tools };
    const body = encode(base);
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather for a city",
            parameters: {
              type: "OBJECT",
              properties: { city: { type: "STRING" }, unit: { type: "STRING", enum: ["celsius", "fahrenheit"], nullable: true } },
              required: ["city"],
            },
          },
          { name: "now" },
        ],
      },
    ]);
    expect(body.toolConfig).toBeUndefined();
    const config = (choice: unknown): unknown => encode({ ...base, tool_choice: choice }).toolConfig;
    expect(config("auto")).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(config("none")).toEqual({ functionCallingConfig: { mode: "NONE" } });
    expect(config("required")).toEqual({ functionCallingConfig: { mode: "ANY" } });
    expect(config({ type: "function", function: { name: "now" } })).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["now"] } });
  });

  test("tool_choice allowed_tools declares only the allowed functions", () => {
    const tools = ["a", "b", "c"].map((name) => ({ type: "function", function: { name } }));
    const body = encode({
      messages: [{ role: "user", content: "hi" }],
      tools,
      tool_choice: { type: "allowed_tools", allowed_tools: { mode: "required", tools: [{ type: "function", function: { name: "b" } }] } },
    });
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: "b" }] }]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY" } });
  });

  test("a tool round trip: assistant tool_calls become functionCall parts, tool results functionResponse parts named by the call", () => {
    const body = encode({
      messages: [
        { role: "user", content: "Weather in Paris and London?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_0_rX", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "call_1_rX", type: "function", function: { name: "get_weather", arguments: '{"city":"London"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_0_rX", content: '{"temp":21}' },
        { role: "tool", tool_call_id: "call_1_rX", content: [{ type: "text", text: "rainy, 14" }] },
        { role: "user", content: "Thanks" },
      ],
    });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Weather in Paris and London?" }] },
      {
        role: "model",
        parts: [
          // A call Gemini 3 did not sign itself gets the documented stand-in, on the first call of the step only.
          { functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: FOREIGN_THOUGHT_SIGNATURE },
          { functionCall: { name: "get_weather", args: { city: "London" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temp: 21 } } },
          { functionResponse: { name: "get_weather", response: { output: "rainy, 14" } } },
          { text: "Thanks" },
        ],
      },
    ]);
  });

  test("a thought signature Gemini sent with a call comes back with it, carried in the tool call id", () => {
    const answer = JSON.parse(openAiToGemini.decodeResponse(fixture("generate-function-calls.json"), ctx()).body) as {
      choices: { message: { tool_calls: { id: string; function: { name: string; arguments: string } }[] } }[];
    };
    const calls = answer.choices[0]!.message.tool_calls;
    for (const c of calls) expect(c.id).toMatch(/^[A-Za-z0-9_-]+$/);
    const body = encode({
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: calls.map((c) => ({ ...c, type: "function" })) },
        ...calls.map((c) => ({ role: "tool", tool_call_id: c.id, content: "sunny" })),
      ],
    });
    const model = (body.contents as { parts: Json[] }[])[1]!;
    expect(model.parts[0]).toEqual({
      functionCall: { name: "get_weather", args: { city: "Paris" } },
      thoughtSignature: "CiQBVKhc7/3+fVYp0a2B+u9KYtjwWqgLLtAx2CsAg8GmM4m1vJcSPQFUqFzv",
    });
    expect(model.parts[1]).toEqual({ functionCall: { name: "get_weather", args: { city: "London", unit: "celsius" } } });
  });

  test("tool call ids are stable, unique per answer and choice, and hold any base64 signature losslessly", () => {
    expect(toolCallId("abc", 0, 0, null)).toBe("call_0_rabc");
    expect(toolCallId("abc", 2, 1, null)).toBe("call_2_1_rabc");
    expect(toolCallId("", 0, 3, null)).toBe("call_3");
    expect(signatureFromToolCallId("call_0_rts_AAAA")).toBeNull();
    for (const sig of ["a+/b", "AB==", "q/+9Zm8=", "x".repeat(3000)]) {
      const id = toolCallId("abc", 0, 0, sig);
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(signatureFromToolCallId(id)!, "base64").equals(Buffer.from(sig, "base64"))).toBe(true);
    }
  });

  test("what Gemini cannot express is refused with a TranslationError naming the field", () => {
    const user = [{ role: "user", content: "hi" }];
    const cases: [Json, string][] = [
      [{ messages: [{ role: "system", content: "only a system prompt" }] }, "messages"],
      [{ messages: [...user, { role: "tool", tool_call_id: "nope", content: "x" }] }, "messages[1].tool_call_id"],
      [{ messages: [{ role: "function", name: "f", content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "robot", content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-abc" } }] }] }, "messages[0].content[0].file"],
      [{ messages: [{ role: "user", content: [{ type: "video", video: {} }] }] }, "messages[0].content[0].type"],
      [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }] }, "messages[0].content[0].image_url.url"],
      [
        { messages: [...user, { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1,2]" } }] }] },
        "messages[1].tool_calls[0].function.arguments",
      ],
      [{ messages: user, tools: [{ type: "custom", custom: { name: "x" } }] }, "tools[0]"],
      [{ messages: user, functions: [{ name: "f" }] }, "functions"],
      [{ messages: user, logprobs: true }, "logprobs"],
      [{ messages: user, temperature: "hot" }, "temperature"],
      [{ messages: user, stop: 5 }, "stop"],
      [{ messages: user, reasoning_effort: "extreme" }, "reasoning_effort"],
      [{ messages: user, response_format: { type: "xml" } }, "response_format.type"],
      [{ messages: user, tools: [{ type: "function", function: { name: "f" } }], tool_choice: "sometimes" }, "tool_choice"],
    ];
    for (const [body, param] of cases) {
      const err = translationError(() => encode(body));
      expect({ param: err.param, hasMessage: err.message.length > 10 }).toEqual({ param, hasMessage: true });
    }
  });
});

describe("Gemini's schema subset", () => {
  test("local $refs are inlined, recursion is cut, allOf merged, anyOf with null made nullable, oneOf read as anyOf", () => {
    const schema = {
      $defs: {
        Address: { type: "object", properties: { street: { type: "string" } }, required: ["street"] },
        Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } },
      },
      type: "object",
      properties: {
        home: { $ref: "#/$defs/Address", description: "where they live" },
        list: { $ref: "#/$defs/Node" },
        both: { allOf: [{ type: "object", properties: { a: { type: "number" } } }, { properties: { b: { type: "boolean" } }, required: ["b"] }] },
        maybe: { anyOf: [{ type: "integer", minimum: 0, exclusiveMinimum: 0 }, { type: "null" }] },
        either: { oneOf: [{ type: "string", const: "x" }, { type: "number", format: "double" }] },
        tags: { type: "array", items: { type: "string", format: "email", default: "a@b.c", title: "Tag" }, minItems: 1, uniqueItems: true },
        kind: { const: "fixed" },
        code: { enum: [1, 2, 3], type: "integer" },
        when: { type: "string", format: "date-time" },
        multi: { type: ["string", "number"], description: "either" },
      },
      patternProperties: { "^x-": {} },
    };
    expect(geminiSchema(schema)).toEqual({
      type: "OBJECT",
      properties: {
        home: { type: "OBJECT", description: "where they live", properties: { street: { type: "STRING" } }, required: ["street"] },
        list: { type: "OBJECT", properties: { next: {} } },
        both: { type: "OBJECT", properties: { a: { type: "NUMBER" }, b: { type: "BOOLEAN" } }, required: ["b"] },
        maybe: { type: "INTEGER", minimum: 0, nullable: true },
        either: { anyOf: [{ type: "STRING", enum: ["x"] }, { type: "NUMBER", format: "double" }] },
        tags: { type: "ARRAY", items: { type: "STRING" }, minItems: 1 },
        kind: { type: "STRING", enum: ["fixed"] },
        code: { type: "INTEGER" },
        when: { type: "STRING", format: "date-time" },
        multi: { anyOf: [{ type: "STRING", description: "either" }, { type: "NUMBER", description: "either" }], description: "either" },
      },
    });
  });
});

describe("whole answers", () => {
  test("text: content, finish reason, and usage with thinking as completion tokens and the cached part of the prompt", () => {
    const d = openAiToGemini.decodeResponse(fixture("generate-text.json"), ctx());
    expect(JSON.parse(d.body)).toEqual({
      id: "chatcmpl-mFq9aKfzB5ukz7IPvfLa2Q0",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "my-model",
      choices: [{ index: 0, message: { role: "assistant", content: "A proxy forwards requests on behalf of clients.", refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: {
        prompt_tokens: 120,
        completion_tokens: 51,
        total_tokens: 171,
        prompt_tokens_details: { cached_tokens: 100 },
        completion_tokens_details: { reasoning_tokens: 42 },
      },
    });
    expect(d.usage).toEqual({ promptTokens: 120, completionTokens: 51, cachedTokens: 100, cacheWriteTokens: 0 });
    expect(d.text).toBe("A proxy forwards requests on behalf of clients.");
  });

  test("thought parts (asked with includeThoughts) are the message's reasoning_content, not its content", () => {
    const answer = {
      responseId: "r1",
      candidates: [{ index: 0, finishReason: "STOP", content: { role: "model", parts: [{ text: "Let me add.", thought: true }, { text: "5" }] } }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1, thoughtsTokenCount: 4 },
    };
    const d = openAiToGemini.decodeResponse(JSON.stringify(answer), ctx());
    const msg = (JSON.parse(d.body) as { choices: { message: Json }[] }).choices[0]!.message;
    expect(msg).toEqual({ role: "assistant", content: "5", reasoning_content: "Let me add.", refusal: null });
    expect(d.text).toBe("5");
    expect(d.usage!.completionTokens).toBe(5);
  });

  test("function calls: tool_calls with JSON arguments, content null, finish_reason tool_calls", () => {
    const d = openAiToGemini.decodeResponse(fixture("generate-function-calls.json"), ctx());
    const body = JSON.parse(d.body) as { choices: { message: { content: unknown; tool_calls: { id: string; type: string; function: Json }[] }; finish_reason: string }[] };
    const choice = body.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls.map((c) => [c.type, c.function])).toEqual([
      ["function", { name: "get_weather", arguments: '{"city":"Paris"}' }],
      ["function", { name: "get_weather", arguments: '{"city":"London","unit":"celsius"}' }],
    ]);
    expect(choice.message.tool_calls[1]!.id).toBe("call_1_rK85raLC0NbKm1dkPoOiKsQM");
    expect(d.text).toBe('{"city":"Paris"}{"city":"London","unit":"celsius"}');
  });

  test("a blocked prompt is an empty answer finished by content_filter; MAX_TOKENS is length", () => {
    const blocked = JSON.parse(openAiToGemini.decodeResponse(fixture("generate-prompt-blocked.json"), ctx()).body) as { choices: Json[]; usage: Json };
    expect(blocked.choices).toEqual([{ index: 0, message: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: "content_filter" }]);
    expect(blocked.usage.prompt_tokens).toBe(12);
    const cut = JSON.parse(openAiToGemini.decodeResponse(fixture("generate-max-tokens.json"), ctx()).body) as { choices: { finish_reason: string }[] };
    expect(cut.choices[0]!.finish_reason).toBe("length");
  });

  test("several candidates are several choices; an answer without usageMetadata has no usage", () => {
    const two = {
      candidates: [
        { content: { parts: [{ text: "A" }], role: "model" }, finishReason: "STOP", index: 0 },
        { content: { parts: [{ text: "B" }], role: "model" }, finishReason: "SAFETY", index: 1 },
      ],
    };
    const d = openAiToGemini.decodeResponse(JSON.stringify(two), ctx());
    const body = JSON.parse(d.body) as { id: string; choices: { index: number; message: { content: string }; finish_reason: string }[]; usage?: unknown };
    expect(body.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, "A", "stop"],
      [1, "B", "content_filter"],
    ]);
    expect(body.usage).toBeUndefined();
    expect(body.id).toBe("chatcmpl-gemini");
    expect(d.usage).toBeNull();
  });

  test("an answer that is not a JSON object is a TranslationError", () => {
    for (const bad of ["<html>", "[1]", "null"]) expect(() => openAiToGemini.decodeResponse(bad, ctx())).toThrow(TranslationError);
  });
});

describe("streams", () => {
  const streamCtx = ctx({ stream: true });
  const chunk = (delta: string, finish: string | null = null, usage = ""): string =>
    `{"id":"chatcmpl-tTCwacuEBMvnitYP06qsgQY","object":"chat.completion.chunk","created":1700000000,"model":"my-model","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? "null" : `"${finish}"`}}]${usage}}`;

  test("a text stream is a role chunk, one content chunk per Gemini event, the finish chunk and [DONE]", () => {
    const { text, t } = runStream(Buffer.from(fixture("stream-text.sse")), [], streamCtx);
    expect(dataEvents(text)).toEqual([
      chunk(`{"role":"assistant","content":""}`),
      chunk(`{"content":"Hello"}`),
      chunk(`{"content":", wörld! How can I help you today"}`),
      chunk(`{"content":"? 👋"}`),
      chunk("{}", "stop"),
      "[DONE]",
    ]);
    expect(t.usage).toEqual({ promptTokens: 5, completionTokens: 26, cachedTokens: 0, cacheWriteTokens: 0 });
    expect(t.keptText()).toBe("Hello, wörld! How can I help you today? 👋");
    expect(t.coverage()).toBe(1);
  });

  test("with include_usage every chunk has usage:null and a usage chunk comes before [DONE]", () => {
    const { text } = runStream(Buffer.from(fixture("stream-text.sse")), [], ctx({ stream: true, includeUsage: true }));
    const events = dataEvents(text);
    expect(events[0]).toBe(chunk(`{"role":"assistant","content":""}`, null, `,"usage":null`));
    expect(events.at(-2)).toBe(
      `{"id":"chatcmpl-tTCwacuEBMvnitYP06qsgQY","object":"chat.completion.chunk","created":1700000000,"model":"my-model","choices":[],` +
        `"usage":{"prompt_tokens":5,"completion_tokens":26,"total_tokens":31,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":14}}}`,
    );
    expect(events.at(-1)).toBe("[DONE]");
  });

  test("fed whole, byte by byte or in random pieces, every stream translates to the same bytes", () => {
    for (const name of ["stream-text.sse", "stream-thinking.sse", "stream-function-call.sse", "stream-error.sse"]) {
      const bytes = Buffer.from(fixture(name));
      const whole = runStream(bytes, [], ctx({ stream: true, includeUsage: true })).text;
      for (const cuts of splits(bytes.length)) {
        expect(runStream(bytes, cuts, ctx({ stream: true, includeUsage: true })).text).toBe(whole);
      }
    }
  });

  test("each event is translated as soon as its blank line arrives, not held back", () => {
    const bytes = Buffer.from(fixture("stream-text.sse"));
    const firstEnd = bytes.indexOf("\r\n\r\n") + 4;
    const t = openAiToGemini.streamTranslator(streamCtx);
    expect(t.push(bytes.subarray(0, firstEnd - 1)).length).toBe(0);
    expect(dataEvents(decoder.decode(t.push(bytes.subarray(firstEnd - 1, firstEnd))))).toEqual([chunk(`{"role":"assistant","content":""}`), chunk(`{"content":"Hello"}`)]);
  });

  test("thought parts are not part of the answer but reasoning_content deltas, first; their tokens count as completion tokens", () => {
    const { text, t } = runStream(Buffer.from(fixture("stream-thinking.sse")), [], streamCtx);
    const deltas = dataEvents(text)
      .filter((d) => d !== "[DONE]")
      .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string; reasoning_content?: string } }[] }).choices[0]?.delta ?? {});
    expect(deltas.map((d) => d.content ?? "").join("")).toBe("2 + 3 + 5 + 7 + 11 = **28**");
    expect(deltas.map((d) => d.reasoning_content ?? "").join("")).toBe("**Adding the primes**\n\nI list the first five primes and add them.\n");
    expect(deltas.findIndex((d) => d.reasoning_content !== undefined)).toBeLessThan(deltas.findIndex((d) => (d.content ?? "") !== ""));
    expect(t.usage).toEqual({ promptTokens: 16, completionTokens: 88, cachedTokens: 0, cacheWriteTokens: 0 });
    expect(t.keptText()).toBe("2 + 3 + 5 + 7 + 11 = **28**");
  });

  test("a function call is one tool_calls delta with the whole arguments, and the choice finishes with tool_calls", () => {
    const { text } = runStream(Buffer.from(fixture("stream-function-call.sse")), [], streamCtx);
    const events = dataEvents(text).map((d) => (d === "[DONE]" ? d : (JSON.parse(d) as { choices: Json[] }).choices[0]));
    expect(events).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "Let me check." }, logprobs: null, finish_reason: null },
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, id: toolCallId("fnCaLL0nE2sTreAmXyZ12", 0, 0, "CiQBVKhc7/3+fVYp0a2B+u9KYtjw"), type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        logprobs: null,
        finish_reason: null,
      },
      { index: 0, delta: {}, logprobs: null, finish_reason: "tool_calls" },
      "[DONE]",
    ]);
  });

  test("a mid-stream Gemini error becomes OpenAI's in-stream error event, with nothing after it", () => {
    const { text, t } = runStream(Buffer.from(fixture("stream-error.sse")), [], ctx({ stream: true, includeUsage: true }));
    const events = dataEvents(text);
    expect(events.at(-1)).toBe(
      JSON.stringify({ error: { message: "The model is overloaded. Please try again later.", type: "server_error", param: null, code: "unavailable" } }),
    );
    expect(events).not.toContain("[DONE]");
    expect(t.usage?.promptTokens).toBe(8);
  });

  test("the official openai client assembles a translated stream, tool calls included", async () => {
    const sse = fixture("stream-function-call.sse");
    const client = new OpenAI({
      apiKey: "k",
      baseURL: "http://gemini.invalid/v1",
      fetch: async () => {
        const { text } = runStream(Buffer.from(sse), [17, 200], ctx({ stream: true, includeUsage: true }));
        return new Response(text, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const final = await client.chat.completions
      .stream({ model: "my-model", messages: [{ role: "user", content: "weather?" }], stream_options: { include_usage: true } })
      .finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("Let me check.");
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 11, total_tokens: 51 });
  });

  test("errorEvent is OpenAI's in-stream error; an empty upstream stream writes nothing", () => {
    const t = openAiToGemini.streamTranslator(streamCtx);
    expect(decoder.decode(t.errorEvent({ code: "upstream_idle_timeout", message: "too slow", type: "timeout_error" }))).toBe(
      'data: {"error":{"message":"too slow","type":"timeout_error","param":null,"code":"upstream_idle_timeout"}}\n\n',
    );
    const empty = openAiToGemini.streamTranslator(streamCtx);
    expect(empty.flush().length).toBe(0);
    expect(empty.usage).toBeNull();
  });

  test("a last event without its blank line is still translated at the end; an event that is not JSON is a TranslationError", () => {
    const cut = fixture("stream-text.sse").trimEnd();
    const { text } = runStream(Buffer.from(cut), [], streamCtx);
    expect(dataEvents(text).slice(-2)).toEqual([chunk("{}", "stop"), "[DONE]"]);
    const t = openAiToGemini.streamTranslator(streamCtx);
    expect(() => t.push(Buffer.from("data: {oops\r\n\r\n"))).toThrow(TranslationError);
  });

  test("a blocked prompt streams a role chunk and a content_filter finish", () => {
    const ev = `data: ${JSON.stringify({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 3 }, responseId: "b1" })}\r\n\r\n`;
    const { text } = runStream(Buffer.from(ev), [], streamCtx);
    const finishes = dataEvents(text)
      .filter((d) => d !== "[DONE]")
      .map((d) => (JSON.parse(d) as { choices: { finish_reason: string | null }[] }).choices[0]!.finish_reason);
    expect(finishes).toEqual([null, "content_filter"]);
  });

  test("the keep for estimates is bounded; coverage tells how much more there was", () => {
    const piece = "x".repeat(1000);
    let sse = "";
    for (let i = 0; i < 40; i++) sse += `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: piece }] }, index: 0 }], responseId: "r" })}\r\n\r\n`;
    const { t } = runStream(Buffer.from(sse), [], streamCtx);
    expect(t.keptText().length).toBe(16000);
    expect(t.coverage()).toBe(40000 / 16000);
  });
});

describe("errors", () => {
  const decode = (status: number, name: string): Json => JSON.parse(openAiToGemini.decodeError(status, fixture(name), "gemini-a")) as Json;

  test("Gemini's status names map to OpenAI types and codes; the message is kept", () => {
    expect(decode(429, "error-429.json")).toEqual({
      error: { message: "You exceeded your current quota, please check your plan and billing details.", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" },
    });
    expect(decode(400, "error-400-schema.json")).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_argument" } });
    expect(decode(400, "error-400-api-key.json")).toEqual({
      error: { message: "API key not valid. Please pass a valid API key.", type: "authentication_error", param: null, code: "invalid_api_key" },
    });
    expect(decode(403, "error-403.json")).toMatchObject({ error: { type: "permission_error", code: "permission_denied" } });
    expect(decode(404, "error-404.json")).toMatchObject({ error: { type: "invalid_request_error", code: "model_not_found" } });
    expect(decode(500, "error-500.json")).toMatchObject({ error: { type: "server_error", code: "internal" } });
    expect(decode(503, "error-503.json")).toMatchObject({ error: { type: "server_error", code: "unavailable" } });
  });

  test("an error wrapped in an array (the non-SSE stream form) is read too; other bodies like any backend's", () => {
    const wrapped = `[${fixture("error-503.json")}]`;
    expect(JSON.parse(openAiToGemini.decodeError(503, wrapped, "g"))).toMatchObject({ error: { code: "unavailable", type: "server_error" } });
    expect(JSON.parse(openAiToGemini.decodeError(502, "<html>Bad Gateway</html>", "g"))).toEqual({
      error: { message: "<html>Bad Gateway</html>", type: "server_error", param: null, code: "upstream_http_502" },
    });
    expect(JSON.parse(openAiToGemini.decodeError(504, "", "g"))).toMatchObject({ error: { message: "backend g answered HTTP 504" } });
  });

  test("the retry delay of a 429 is read from its RetryInfo detail", () => {
    expect(geminiRetryDelaySeconds(fixture("error-429.json"))).toBe(26);
    expect(geminiRetryDelaySeconds(fixture("error-503.json"))).toBeNull();
    expect(geminiRetryDelaySeconds("nope")).toBeNull();
  });
});
