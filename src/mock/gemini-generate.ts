// Google's Gemini API (API reference "Generating content", "Counting tokens"):
//   POST /v1beta/models/{model}:generateContent       a GenerateContentResponse
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse
//        one `data: {GenerateContentResponse}` event per token, lines ending in CRLF as
//        Google sends them; usageMetadata on every event, cumulative; the last event
//        carries finishReason (an empty text part with it, as the real API often sends)
//   POST /v1beta/models/{model}:countTokens           {"totalTokens": N}
// Without alt=sse, streamGenerateContent answers one JSON array that grows as it streams;
// clients and the gateway use SSE, so the mock refuses that form with a 400 saying so.
// The model comes from the path and the stream choice from the method, not from the body.
//
// With tools the answer is a functionCall part; Gemini sends a call whole, in one event,
// so a streamed call is one event (and the request's record counts it as one token
// event) while usage counts its argument tokens. With x-mock-thinking the answer also
// reports thoughtsTokenCount, carries thought parts when the request asked
// generationConfig.thinkingConfig.includeThoughts, and signs a function call with a
// thoughtSignature like Gemini 3 does.

import { intField, isObject, type Generation, type JsonObject, type MockEndpoint } from "./endpoint.ts";
import { mockStreamErrorEvent } from "./error-bodies.ts";
import type { StreamScript } from "./event-stream.ts";
import { countPromptTokens, mockCompletionTextJson, mockTokenJson } from "./text.ts";
import { geminiToolCall, type ToolCall } from "./tools.ts";

function finishReason(g: Generation): string {
  // Gemini ends a function-calling answer with STOP too.
  return g.cut ? "MAX_TOKENS" : "STOP";
}

function usageJson(g: Generation, candidates: number): string {
  const f = g.features;
  const prompt = g.promptTokens + f.cacheRead;
  let s = `{"promptTokenCount":${prompt},"candidatesTokenCount":${candidates},"totalTokenCount":${prompt + candidates + f.thinking}`;
  if (f.cacheRead > 0) s += `,"cachedContentTokenCount":${f.cacheRead}`;
  s += `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":${prompt}}]`;
  if (f.thinking > 0) s += `,"thoughtsTokenCount":${f.thinking}`;
  return s + "}";
}

function generationConfig(body: JsonObject): JsonObject {
  const g = body.generationConfig ?? body.generation_config;
  return isObject(g) ? g : {};
}

function includeThoughts(body: JsonObject): boolean {
  const t = generationConfig(body).thinkingConfig ?? generationConfig(body).thinking_config;
  return isObject(t) && (t.includeThoughts === true || t.include_thoughts === true);
}

function thoughtPart(g: Generation): string | null {
  return g.features.thinking > 0 && includeThoughts(g.body) ? `{"text":${mockCompletionTextJson(g.features.thinking)},"thought":true}` : null;
}

function functionCallPart(g: Generation, tool: ToolCall): string {
  const signature = g.features.thinking > 0 ? `,"thoughtSignature":"${Buffer.from(`mock-signature:${g.id}`).toString("base64")}"` : "";
  return `{"functionCall":{"name":${tool.nameJson},"args":${tool.arguments}}${signature}}`;
}

/** One GenerateContentResponse; `finish` is "" while the answer goes on, `usage` "" when usage is off. */
function responseJson(g: Generation, parts: string, finish: string, usage: string): string {
  const f = finish === "" ? "" : `,"finishReason":"${finish}"`;
  const u = usage === "" ? "" : `,"usageMetadata":${usage}`;
  return `{"candidates":[{"content":{"parts":[${parts}],"role":"model"}${f},"index":0}]${u},"modelVersion":${g.modelJson},"responseId":"${g.id}"}`;
}

function complete(g: Generation): { body: string; tokens: number } {
  const tool = geminiToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  const answer = tool ? functionCallPart(g, tool) : `{"text":${mockCompletionTextJson(tokens)}}`;
  const thought = thoughtPart(g);
  const parts = thought === null ? answer : `${thought},${answer}`;
  return { body: responseJson(g, parts, finishReason(g), g.usage ? usageJson(g, tokens) : ""), tokens };
}

function event(json: string): string {
  return `data: ${json}\r\n\r\n`;
}

function stream(g: Generation): StreamScript {
  const tool = geminiToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  const thought = thoughtPart(g);
  const usage = (n: number): string => (g.usage ? usageJson(g, n) : "");
  return {
    head: thought === null ? [] : [event(responseJson(g, thought, "", usage(0)))],
    tokens: tool ? 1 : tokens,
    token: tool ? () => event(responseJson(g, functionCallPart(g, tool), "", usage(tokens))) : (i) => event(responseJson(g, `{"text":${mockTokenJson(i)}}`, "", usage(i + 1))),
    tail: () => [event(responseJson(g, `{"text":""}`, finishReason(g), usage(tokens)))],
    error: () => mockStreamErrorEvent("gemini"),
  };
}

/** Gemini's own wording for a request without contents. */
function requireContents(body: JsonObject): string | null {
  return Array.isArray(body.contents) && body.contents.length > 0 ? null : "* GenerateContentRequest.contents: contents is not specified";
}

export const geminiGenerate: MockEndpoint = {
  provider: "gemini",
  kind: "gemini",
  idPrefix: "mock",
  generates: true,
  validate: requireContents,
  maxTokens: (body) => intField(generationConfig(body), "maxOutputTokens") ?? intField(generationConfig(body), "max_output_tokens"),
  complete,
  stream,
};

/** countTokens takes {contents} or {generateContentRequest: {contents, ...}}. */
function countRequest(body: JsonObject): JsonObject {
  return isObject(body.generateContentRequest) ? body.generateContentRequest : body;
}

export const geminiCountTokens: MockEndpoint = {
  provider: "gemini",
  kind: "gemini",
  idPrefix: "count",
  generates: false,
  validate: (body) => requireContents(countRequest(body)),
  maxTokens: () => undefined,
  complete(g) {
    const n = countPromptTokens("gemini", countRequest(g.body));
    return { body: `{"totalTokens":${n},"promptTokensDetails":[{"modality":"TEXT","tokenCount":${n}}]}`, tokens: 0 };
  },
};

export type GeminiMethod = "generateContent" | "streamGenerateContent" | "countTokens";

/** A Gemini path's model and method: /v1beta/models/{model}:{method} (v1 and v1alpha too), or null. */
export function geminiRoute(path: string): { model: string; method: GeminiMethod } | null {
  const m = /^\/v1(?:beta|alpha)?\/((?:models|tunedModels)\/[^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(path);
  if (m === null) return null;
  let model: string;
  try {
    model = decodeURIComponent(m[1]!.slice(m[1]!.indexOf("/") + 1));
  } catch {
    return null;
  }
  return { model, method: m[2] as GeminiMethod };
}
