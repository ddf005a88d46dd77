// POST /v1/messages and /v1/messages/count_tokens in Anthropic's format (API reference
// "Messages", "Streaming Messages"). A stream is message_start, content_block_start,
// ping, one content_block_delta per token, content_block_stop, message_delta (stop
// reason and the cumulative output_tokens), message_stop.
//
// On request (x-mock-* headers, see options.ts): usage with cache_read_input_tokens and
// cache_creation_input_tokens (added to the counted prompt, which stays input_tokens, as
// Anthropic's input_tokens excludes cache reads and writes); a thinking block before the
// answer (extended thinking: thinking_delta events, then a signature_delta, its tokens
// counted in output_tokens); an `event: error` (overloaded_error) in the middle of a
// stream, which is how Anthropic reports a failure once the answer has begun.

import { intField, type Generation, type JsonObject, type MockEndpoint } from "./endpoint.ts";
import { mockStreamErrorEvent } from "./error-bodies.ts";
import type { StreamScript } from "./event-stream.ts";
import { mockCompletionTextJson, mockTokenJson } from "./text.ts";
import { anthropicToolCall, type ToolCall } from "./tools.ts";

function stopReason(g: Generation, tool: ToolCall | null): string {
  if (g.cut) return "max_tokens";
  return tool ? "tool_use" : "end_turn";
}

function usageJson(g: Generation, output: number): string {
  const f = g.features;
  return `{"input_tokens":${g.promptTokens},"cache_creation_input_tokens":${f.cacheWrite},"cache_read_input_tokens":${f.cacheRead},"output_tokens":${output}}`;
}

/** The thinking block's signature: opaque base64 to the client, as Anthropic's is. */
function signature(g: Generation): string {
  return Buffer.from(`mock-thinking-signature:${g.id}`).toString("base64");
}

/** The message object; `content` is the blocks' JSON, `usage` "" to leave the key out. */
function messageJson(g: Generation, content: string, stop: string, usage: string): string {
  return (
    `{"id":"${g.id}","type":"message","role":"assistant","model":${g.modelJson},"content":[${content}],` +
    `"stop_reason":${stop},"stop_sequence":null` +
    (usage === "" ? "" : `,"usage":${usage}`) +
    "}"
  );
}

function complete(g: Generation): { body: string; tokens: number } {
  const tool = anthropicToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  const thinking = g.features.thinking;
  let blocks = tool
    ? `{"type":"tool_use","id":"toolu_${g.suffix}","name":${tool.nameJson},"input":${tool.arguments}}`
    : `{"type":"text","text":${mockCompletionTextJson(tokens)}}`;
  if (thinking > 0) blocks = `{"type":"thinking","thinking":${mockCompletionTextJson(thinking)},"signature":"${signature(g)}"},${blocks}`;
  const usage = g.usage ? usageJson(g, thinking + tokens) : "";
  return { body: messageJson(g, blocks, `"${stopReason(g, tool)}"`, usage), tokens: thinking + tokens };
}

function event(type: string, data: string): string {
  return `event: ${type}\ndata: ${data}\n\n`;
}

/** The events of a whole thinking block (sent before the answer's first token). */
function thinkingEvents(g: Generation): string[] {
  const events = [event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`)];
  for (let i = 0; i < g.features.thinking; i++) {
    events.push(event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":${mockTokenJson(i)}}}`));
  }
  events.push(event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"${signature(g)}"}}`));
  events.push(event("content_block_stop", `{"type":"content_block_stop","index":0}`));
  return events;
}

function stream(g: Generation): StreamScript {
  const tool = anthropicToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  const thinking = g.features.thinking;
  // The answer's block comes after the thinking block, when there is one.
  const index = thinking > 0 ? 1 : 0;
  // Anthropic's message_start already reports output_tokens 1 (the first token is being
  // made); the real count comes in message_delta, which is what meters must read.
  const startUsage = g.usage ? usageJson(g, 1) : "";
  const block = tool ? `{"type":"tool_use","id":"toolu_${g.suffix}","name":${tool.nameJson},"input":{}}` : `{"type":"text","text":""}`;
  const deltaPre = tool
    ? `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"input_json_delta","partial_json":`
    : `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":`;
  const head = [event("message_start", `{"type":"message_start","message":${messageJson(g, "", "null", startUsage)}}`)];
  if (thinking > 0) head.push(...thinkingEvents(g));
  head.push(event("content_block_start", `{"type":"content_block_start","index":${index},"content_block":${block}}`), event("ping", `{"type":"ping"}`));
  return {
    head,
    tokens,
    token: tool ? (i) => `${deltaPre}${JSON.stringify(tool.fragments[i])}}}\n\n` : (i) => `${deltaPre}${mockTokenJson(i)}}}\n\n`,
    tail() {
      const usage = g.usage ? `,"usage":{"output_tokens":${thinking + tokens}}` : "";
      return [
        event("content_block_stop", `{"type":"content_block_stop","index":${index}}`),
        event("message_delta", `{"type":"message_delta","delta":{"stop_reason":"${stopReason(g, tool)}","stop_sequence":null}${usage}}`),
        event("message_stop", `{"type":"message_stop"}`),
      ];
    },
    error: () => mockStreamErrorEvent("anthropic"),
  };
}

function requireMessages(body: JsonObject): string | null {
  return Array.isArray(body.messages) && body.messages.length > 0 ? null : "messages: Field required";
}

export const anthropicMessages: MockEndpoint = {
  provider: "anthropic",
  kind: "messages",
  idPrefix: "msg_",
  generates: true,
  validate(body) {
    // max_tokens is required by the Messages API (unlike OpenAI's optional caps).
    if (intField(body, "max_tokens") === undefined) return "max_tokens: Field required";
    return requireMessages(body);
  },
  maxTokens: (body) => intField(body, "max_tokens"),
  complete,
  stream,
};

export const anthropicCountTokens: MockEndpoint = {
  provider: "anthropic",
  kind: "messages",
  idPrefix: "count_",
  generates: false,
  validate: requireMessages,
  maxTokens: () => undefined,
  complete: (g) => ({ body: `{"input_tokens":${g.promptTokens}}`, tokens: 0 }),
};
