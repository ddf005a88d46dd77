// The Anthropic front door in front of an OpenAI-compatible backend: a client of the
// Messages API (the Anthropic SDK, Claude Code) served by vLLM, SGLang, llama.cpp,
// Ollama or OpenAI through POST /v1/chat/completions. Each direction lives in its own
// file; the decisions are written down there:
//   anthropic-to-openai-request.ts   the request
//   anthropic-to-openai-response.ts  the whole answer (and the stop-reason/usage/id mappings)
//   anthropic-to-openai-stream.ts    the event stream
//   anthropic-errors.ts              errors in Anthropic's shape

import { anthropicBackendErrorBody } from "./anthropic-errors.ts";
import { anthropicRequestToOpenAi } from "./anthropic-to-openai-request.ts";
import { openAiResponseToAnthropic } from "./anthropic-to-openai-response.ts";
import { OpenAiToAnthropicStream } from "./anthropic-to-openai-stream.ts";
import type { Translation } from "./types.ts";

export const anthropicToOpenAi: Translation = {
  encodeRequest: anthropicRequestToOpenAi,
  decodeResponse: openAiResponseToAnthropic,
  streamTranslator: (ctx) => new OpenAiToAnthropicStream(ctx),
  decodeError: anthropicBackendErrorBody,
};

export { anthropicErrorBody, anthropicErrorType, anthropicGatewayErrorBody } from "./anthropic-errors.ts";
