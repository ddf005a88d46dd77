// POST /v1/messages and /v1/messages/count_tokens in Anthropic's format (API reference
// "Messages", "Streaming Messages"). A stream is message_start, content_block_start,
// ping, one content_block_delta per token, content_block_stop, message_delta (stop
// reason and the cumulative output_tokens), message_stop.

import { intField, type Generation, type JsonObject, type MockEndpoint } from "./endpoint.ts";
import type { StreamScript } from "./event-stream.ts";
import { mockCompletionTextJson, mockTokenJson } from "./text.ts";
import { anthropicToolCall, type ToolCall } from "./tools.ts";

function stopReason(g: Generation, tool: ToolCall | null): string {
  if (g.cut) return "max_tokens";
  return tool ? "tool_use" : "end_turn";
}

function usageJson(input: number, output: number): string {
  return `{"input_tokens":${input},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":${output}}`;
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
  const block = tool
    ? `{"type":"tool_use","id":"toolu_${g.suffix}","name":${tool.nameJson},"input":${tool.arguments}}`
    : `{"type":"text","text":${mockCompletionTextJson(tokens)}}`;
  const usage = g.usage ? usageJson(g.promptTokens, tokens) : "";
  return { body: messageJson(g, block, `"${stopReason(g, tool)}"`, usage), tokens };
}

function event(type: string, data: string): string {
  return `event: ${type}\ndata: ${data}\n\n`;
}

function stream(g: Generation): StreamScript {
  const tool = anthropicToolCall(g.body, g.tokens);
  const tokens = tool ? tool.fragments.length : g.tokens;
  // Anthropic's message_start already reports output_tokens 1 (the first token is being
  // made); the real count comes in message_delta, which is what meters must read.
  const startUsage = g.usage ? usageJson(g.promptTokens, 1) : "";
  const block = tool ? `{"type":"tool_use","id":"toolu_${g.suffix}","name":${tool.nameJson},"input":{}}` : `{"type":"text","text":""}`;
  const deltaPre = tool
    ? `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":`
    : `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`;
  return {
    head: [
      event("message_start", `{"type":"message_start","message":${messageJson(g, "", "null", startUsage)}}`),
      event("content_block_start", `{"type":"content_block_start","index":0,"content_block":${block}}`),
      event("ping", `{"type":"ping"}`),
    ],
    tokens,
    token: tool ? (i) => `${deltaPre}${JSON.stringify(tool.fragments[i])}}}\n\n` : (i) => `${deltaPre}${mockTokenJson(i)}}}\n\n`,
    tail() {
      const usage = g.usage ? `,"usage":{"output_tokens":${tokens}}` : "";
      return [
        event("content_block_stop", `{"type":"content_block_stop","index":0}`),
        event("message_delta", `{"type":"message_delta","delta":{"stop_reason":"${stopReason(g, tool)}","stop_sequence":null}${usage}}`),
        event("message_stop", `{"type":"message_stop"}`),
      ];
    },
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
