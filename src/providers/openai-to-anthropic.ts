// OpenAI chat-completions clients in front of an Anthropic Messages backend
// (POST /v1/messages). The request side lives in openai-to-anthropic-request.ts (with
// the field policy), the stream in openai-to-anthropic-stream.ts, stop reasons, usage
// and errors in openai-to-anthropic-answer.ts; this file reads whole answers and puts
// the pieces together.
//
// A whole answer becomes a chat.completion:
// - id: the Anthropic message id (msg_...), so a client's report can be found in the
//   backend's logs; model: the name the client asked for; created: the request's arrival.
// - text blocks joined (Anthropic splits text around citations: no separator), thinking
//   blocks as message.reasoning_content (DeepSeek's and vLLM's field), tool_use blocks as
//   tool_calls with arguments = JSON of the input; redacted thinking and server-tool blocks
//   have no OpenAI form and are left out.
// - content is null when the answer is only tool calls, as OpenAI sends it.

import { finishReason, openAiErrorFromAnthropic, openAiUsageJson, translatedUsage } from "./openai-to-anthropic-answer.ts";
import { encodeRequest } from "./openai-to-anthropic-request.ts";
import { AnthropicToOpenAiStream } from "./openai-to-anthropic-stream.ts";
import { TranslationError, type DecodedResponse, type EncodeContext, type Translation } from "./types.ts";

export { DEFAULT_MAX_TOKENS, encodeRequest } from "./openai-to-anthropic-request.ts";
export { AnthropicToOpenAiStream, KEEP_CHARS } from "./openai-to-anthropic-stream.ts";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function decodeResponse(text: string, ctx: EncodeContext): DecodedResponse {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new TranslationError(`the backend's answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (!isObject(msg) || !Array.isArray(msg.content)) throw new TranslationError(`the backend's answer is not an Anthropic message: ${text.slice(0, 200)}`);
  let content = "";
  let reasoning = "";
  let args = "";
  const calls: string[] = [];
  for (const b of msg.content) {
    if (!isObject(b)) continue;
    if (b.type === "text" && typeof b.text === "string") content += b.text;
    else if (b.type === "thinking" && typeof b.thinking === "string") reasoning += b.thinking;
    else if (b.type === "tool_use") {
      const a = JSON.stringify(isObject(b.input) ? b.input : {});
      args += a;
      calls.push(`{"id":${JSON.stringify(typeof b.id === "string" ? b.id : `call_${calls.length}`)},"type":"function","function":{"name":${JSON.stringify(typeof b.name === "string" ? b.name : "")},"arguments":${JSON.stringify(a)}}}`);
    }
  }
  const usage = isObject(msg.usage) ? translatedUsage(msg.usage) : null;
  const id = typeof msg.id === "string" ? msg.id : `chatcmpl-${ctx.created}`;
  const contentJson = content === "" && calls.length > 0 ? "null" : JSON.stringify(content);
  const message =
    `{"role":"assistant","content":${contentJson}` +
    (reasoning === "" ? "" : `,"reasoning_content":${JSON.stringify(reasoning)}`) +
    (calls.length === 0 ? "" : `,"tool_calls":[${calls.join(",")}]`) +
    `,"refusal":null}`;
  const body =
    `{"id":${JSON.stringify(id)},"object":"chat.completion","created":${ctx.created},"model":${JSON.stringify(ctx.clientModel)},` +
    `"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${finishReason(msg.stop_reason)}"}]` +
    (usage === null ? "" : `,"usage":${openAiUsageJson(usage)}`) +
    "}";
  return { body, usage, text: content + reasoning + args };
}

export const openAiToAnthropic: Translation = {
  encodeRequest,
  decodeResponse,
  streamTranslator: (ctx) => new AnthropicToOpenAiStream(ctx),
  decodeError: openAiErrorFromAnthropic,
};
