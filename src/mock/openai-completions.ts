// POST /v1/completions: OpenAI's legacy text completions ("text_completion" objects).
// Same usage rules as chat: a final usage chunk with "choices":[] only when the client
// set stream_options.include_usage, and then "usage":null on every other chunk.

import { intField, SSE_DONE, type Generation, type MockEndpoint } from "./endpoint.ts";
import { mockStreamErrorEvent } from "./error-bodies.ts";
import type { StreamScript } from "./event-stream.ts";
import { includeUsage, openaiUsageJson } from "./openai-chat.ts";
import { mockCompletionTextJson, mockTokenJson } from "./text.ts";

const finishReason = (g: Generation): string => (g.cut ? "length" : "stop");

function complete(g: Generation): { body: string; tokens: number } {
  const usage = g.usage ? `,"usage":${openaiUsageJson(g.promptTokens, g.tokens)}` : "";
  const body =
    `{"id":"${g.id}","object":"text_completion","created":${g.created},"model":${g.modelJson},` +
    `"choices":[{"text":${mockCompletionTextJson(g.tokens)},"index":0,"logprobs":null,"finish_reason":"${finishReason(g)}"}]${usage}}`;
  return { body, tokens: g.tokens };
}

function stream(g: Generation): StreamScript {
  const withUsage = g.usage && includeUsage(g.body);
  const u = withUsage ? `,"usage":null` : "";
  const pre = `data: {"id":"${g.id}","object":"text_completion","created":${g.created},"model":${g.modelJson},"choices":[`;
  const tokenPre = `${pre}{"text":`;
  const tokenPost = `,"index":0,"logprobs":null,"finish_reason":null}]${u}}\n\n`;
  return {
    // Legacy completions have no role chunk: the first event carries the first token.
    head: [],
    tokens: g.tokens,
    token: (i) => tokenPre + mockTokenJson(i) + tokenPost,
    tail() {
      const events = [`${pre}{"text":"","index":0,"logprobs":null,"finish_reason":"${finishReason(g)}"}]${u}}\n\n`];
      if (withUsage) events.push(`${pre}],"usage":${openaiUsageJson(g.promptTokens, g.tokens)}}\n\n`);
      events.push(SSE_DONE);
      return events;
    },
    error: () => mockStreamErrorEvent("openai"),
  };
}

export const openaiCompletions: MockEndpoint = {
  provider: "openai",
  kind: "completions",
  idPrefix: "cmpl-",
  generates: true,
  validate: (body) => (typeof body.prompt === "string" || Array.isArray(body.prompt) ? null : "Missing required parameter: 'prompt'."),
  maxTokens: (body) => intField(body, "max_tokens"),
  complete,
  stream,
};
