// POST /v1/chat/completions in OpenAI's wire format (API reference "Chat Completions",
// "The chat completion chunk object"). Events are built from per-request string
// templates: a chunk is its constant prefix + one precomputed token literal + suffix.

import { intField, isObject, SSE_DONE, type Generation, type JsonObject, type MockEndpoint } from "./endpoint.ts";
import { mockStreamErrorEvent } from "./error-bodies.ts";
import type { StreamScript } from "./event-stream.ts";
import { mockCompletionTextJson, mockTokenJson } from "./text.ts";
import { openaiToolCall, type ToolCall } from "./tools.ts";

export function openaiUsageJson(prompt: number, completion: number): string {
  return `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}}`;
}

/** Chat usage; x-mock-cache-read adds cached prompt tokens (prompt_tokens_details, only then, so plain answers stay as they were). */
function chatUsageJson(g: Generation, completion: number): string {
  const cached = g.features.cacheRead;
  if (cached === 0) return openaiUsageJson(g.promptTokens, completion);
  const prompt = g.promptTokens + cached;
  return `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion},"prompt_tokens_details":{"cached_tokens":${cached}}}`;
}

/** stream_options.include_usage: the client asks for the extra usage chunk. */
export function includeUsage(body: JsonObject): boolean {
  return isObject(body.stream_options) && body.stream_options.include_usage === true;
}

function finishReason(g: Generation, tool: ToolCall | null): string {
  if (g.cut) return "length";
  return tool ? "tool_calls" : "stop";
}

function toolCallJson(g: Generation, tool: ToolCall): string {
  return `{"id":"call_${g.suffix}","type":"function","function":{"name":${tool.nameJson},"arguments":${JSON.stringify(tool.arguments)}}}`;
}

function complete(g: Generation): { body: string; tokens: number } {
  const tool = openaiToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  const message = tool
    ? `{"role":"assistant","content":null,"tool_calls":[${toolCallJson(g, tool)}],"refusal":null}`
    : `{"role":"assistant","content":${mockCompletionTextJson(tokens)},"refusal":null}`;
  const usage = g.usage ? `,"usage":${chatUsageJson(g, tokens)}` : "";
  const body =
    `{"id":"${g.id}","object":"chat.completion","created":${g.created},"model":${g.modelJson},` +
    `"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${finishReason(g, tool)}"}]${usage}}`;
  return { body, tokens };
}

function stream(g: Generation): StreamScript {
  const tool = openaiToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  // With include_usage OpenAI puts "usage":null on every chunk but the last, so clients
  // can rely on the key being there; without it the key is absent everywhere.
  const withUsage = g.usage && includeUsage(g.body);
  const u = withUsage ? `,"usage":null` : "";
  const pre = `data: {"id":"${g.id}","object":"chat.completion.chunk","created":${g.created},"model":${g.modelJson},"choices":[`;
  const post = `,"logprobs":null,"finish_reason":null}]${u}}\n\n`;
  const first = tool
    ? `{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_${g.suffix}","type":"function","function":{"name":${tool.nameJson},"arguments":""}}]}`
    : `{"index":0,"delta":{"role":"assistant","content":""}`;
  const tokenPre = tool ? `${pre}{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":` : `${pre}{"index":0,"delta":{"content":`;
  const tokenPost = tool ? `}}]}${post}` : `}${post}`;
  return {
    head: [pre + first + post],
    tokens,
    token: tool ? (i) => tokenPre + JSON.stringify(tool.fragments[i]) + tokenPost : (i) => tokenPre + mockTokenJson(i) + tokenPost,
    tail() {
      const events = [`${pre}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finishReason(g, tool)}"}]${u}}\n\n`];
      if (withUsage) events.push(`${pre}],"usage":${chatUsageJson(g, tokens)}}\n\n`);
      events.push(SSE_DONE);
      return events;
    },
    error: () => mockStreamErrorEvent("openai"),
  };
}

export const openaiChat: MockEndpoint = {
  provider: "openai",
  kind: "chat",
  idPrefix: "chatcmpl-",
  generates: true,
  validate: (body) => (Array.isArray(body.messages) && body.messages.length > 0 ? null : "Missing required parameter: 'messages'."),
  maxTokens: (body) => intField(body, "max_completion_tokens") ?? intField(body, "max_tokens"),
  complete,
  stream,
};
