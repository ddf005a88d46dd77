// POST /v1/responses: OpenAI's Responses API ("The response object", "Streaming events").
// A stream is typed SSE (`event: <type>` + `data: {...,"sequence_number":n}`): created,
// in_progress, output_item.added, content_part.added, one output_text.delta per token,
// output_text.done, content_part.done, output_item.done, then completed (or incomplete
// when max_output_tokens cut the answer, as the real API does).

import { intField, type Generation, type MockEndpoint } from "./endpoint.ts";
import type { StreamScript } from "./event-stream.ts";
import { mockCompletionTextJson, mockTokenJson } from "./text.ts";

function usageJson(prompt: number, output: number): string {
  return (
    `{"input_tokens":${prompt},"input_tokens_details":{"cached_tokens":0},` +
    `"output_tokens":${output},"output_tokens_details":{"reasoning_tokens":0},"total_tokens":${prompt + output}}`
  );
}

function textPartJson(textJson: string): string {
  return `{"type":"output_text","text":${textJson},"annotations":[]}`;
}

function messageItemJson(g: Generation, status: string, content: string): string {
  return `{"id":"msg_${g.suffix}","type":"message","status":"${status}","role":"assistant","content":[${content}]}`;
}

/** The response object; `usage` is the JSON for the key, "" to leave the key out. */
function responseJson(g: Generation, status: string, output: string, usage: string): string {
  const incomplete = status === "incomplete" ? `{"reason":"max_output_tokens"}` : "null";
  const max = intField(g.body, "max_output_tokens") ?? null;
  return (
    `{"id":"${g.id}","object":"response","created_at":${g.created},"status":"${status}","error":null,` +
    `"incomplete_details":${incomplete},"max_output_tokens":${max},"model":${g.modelJson},"output":[${output}]` +
    (usage === "" ? "" : `,"usage":${usage}`) +
    "}"
  );
}

function finalStatus(g: Generation): string {
  return g.cut ? "incomplete" : "completed";
}

function complete(g: Generation): { body: string; tokens: number } {
  const status = finalStatus(g);
  const item = messageItemJson(g, status, textPartJson(mockCompletionTextJson(g.tokens)));
  return { body: responseJson(g, status, item, g.usage ? usageJson(g.promptTokens, g.tokens) : ""), tokens: g.tokens };
}

function event(type: string, seq: number, rest: string): string {
  return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq}${rest}}\n\n`;
}

function stream(g: Generation): StreamScript {
  const n = g.tokens;
  const itemRef = `,"item_id":"msg_${g.suffix}","output_index":0,"content_index":0`;
  const deltaPre = `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":`;
  const deltaMid = `${itemRef},"delta":`;
  // In-progress snapshots carry "usage":null like the real API; with usage off, no key.
  const pendingUsage = g.usage ? "null" : "";
  const inProgress = responseJson(g, "in_progress", "", pendingUsage);
  return {
    head: [
      event("response.created", 0, `,"response":${inProgress}`),
      event("response.in_progress", 1, `,"response":${inProgress}`),
      event("response.output_item.added", 2, `,"output_index":0,"item":${messageItemJson(g, "in_progress", "")}`),
      event("response.content_part.added", 3, `${itemRef},"part":${textPartJson('""')}`),
    ],
    tokens: n,
    token: (i) => `${deltaPre}${4 + i}${deltaMid}${mockTokenJson(i)},"logprobs":[]}\n\n`,
    tail() {
      const textJson = mockCompletionTextJson(n);
      const status = finalStatus(g);
      const item = messageItemJson(g, status, textPartJson(textJson));
      const usage = g.usage ? usageJson(g.promptTokens, n) : "";
      return [
        event("response.output_text.done", 4 + n, `${itemRef},"text":${textJson},"logprobs":[]`),
        event("response.content_part.done", 5 + n, `${itemRef},"part":${textPartJson(textJson)}`),
        event("response.output_item.done", 6 + n, `,"output_index":0,"item":${item}`),
        event(`response.${status}`, 7 + n, `,"response":${responseJson(g, status, item, usage)}`),
      ];
    },
    // The Responses API's own error event ("Streaming events": error).
    error: (sent) => event("error", 4 + sent, `,"code":"server_error","message":"The server is overloaded. Please try again later.","param":null`),
  };
}

export const openaiResponses: MockEndpoint = {
  provider: "openai",
  kind: "responses",
  idPrefix: "resp_",
  generates: true,
  validate: (body) => (typeof body.input === "string" || Array.isArray(body.input) ? null : "Missing required parameter: 'input'."),
  maxTokens: (body) => intField(body, "max_output_tokens"),
  complete,
  stream,
};
