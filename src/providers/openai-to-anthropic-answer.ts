// Reading an Anthropic answer in OpenAI terms: stop reasons, usage and errors, shared by
// the whole-answer decoder (openai-to-anthropic.ts) and the stream translator
// (openai-to-anthropic-stream.ts).

import { errorBody, type ErrorType } from "../errors.ts";
import { readErrorBody, typeForStatus } from "../proxy/upstream-error.ts";
import type { AnthropicErrorType } from "./anthropic-errors.ts";
import type { TranslatedUsage } from "./types.ts";

/**
 * Anthropic stop_reason → OpenAI finish_reason. `pause_turn` only ends turns that run
 * Anthropic's server tools, which this translation never asks for: a plain stop.
 * `model_context_window_exceeded` cut the answer short like max_tokens. An unknown
 * (newer) reason is a stop: a finish_reason must be one of OpenAI's values.
 */
export function finishReason(stop: unknown): string {
  switch (stop) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

function count(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

/**
 * Anthropic's usage object in the gateway's terms. Anthropic's input_tokens excludes the
 * tokens read from or written to the prompt cache; OpenAI's prompt_tokens (and so ours)
 * includes them, with the cached part reported beside it.
 */
export function translatedUsage(u: Record<string, unknown>): TranslatedUsage {
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  return {
    promptTokens: count(u.input_tokens) + read + write,
    completionTokens: count(u.output_tokens),
    cachedTokens: read,
    cacheWriteTokens: write,
  };
}

/** OpenAI's usage object, as JSON. */
export function openAiUsageJson(u: TranslatedUsage): string {
  return (
    `{"prompt_tokens":${u.promptTokens},"completion_tokens":${u.completionTokens},` +
    `"total_tokens":${u.promptTokens + u.completionTokens},"prompt_tokens_details":{"cached_tokens":${u.cachedTokens}}}`
  );
}

/**
 * Anthropic error types → OpenAI's. Anthropic names a missing model not_found_error
 * (404); OpenAI says invalid_request_error for that, as typeForStatus does. A spent
 * balance (billing_error, 402) is OpenAI's insufficient_quota. Overload (529) is a
 * server_error: OpenAI SDKs retry 5xx, whatever the type says.
 */
const OPENAI_TYPE: Record<AnthropicErrorType, ErrorType> = {
  invalid_request_error: "invalid_request_error",
  authentication_error: "authentication_error",
  billing_error: "insufficient_quota",
  permission_error: "permission_error",
  not_found_error: "invalid_request_error",
  conflict_error: "invalid_request_error",
  request_too_large: "invalid_request_error",
  rate_limit_error: "rate_limit_error",
  timeout_error: "timeout_error",
  api_error: "server_error",
  overloaded_error: "server_error",
};

function isAnthropicType(t: string | null): t is AnthropicErrorType {
  return t !== null && Object.hasOwn(OPENAI_TYPE, t);
}

/**
 * The OpenAI error body for Anthropic's {"type":"error","error":{"type","message"}} (or
 * any other shape a backend or a proxy in front of it sends, read by readErrorBody). The
 * Anthropic type becomes the `code`: it is the most precise thing known (overloaded_error
 * vs api_error are both server_error to OpenAI) and stable. Bodies of another shape get
 * the code every backend error gets: the backend's own, else upstream_http_<status>.
 */
export function openAiErrorFromAnthropic(status: number, text: string, backendName: string): string {
  const f = readErrorBody(status, text, backendName);
  if (isAnthropicType(f.type)) return errorBody(f.code ?? f.type, f.message, OPENAI_TYPE[f.type], f.param);
  return errorBody(f.code ?? `upstream_http_${status}`, f.message, f.type ?? typeForStatus(status), f.param);
}

/** The OpenAI error body for the `error` event of an Anthropic stream (no status there: the type decides). */
export function openAiErrorFromStreamEvent(e: unknown): string {
  const o = e !== null && typeof e === "object" ? (e as Record<string, unknown>) : {};
  const type = typeof o.type === "string" ? o.type : null;
  const message = typeof o.message === "string" && o.message !== "" ? o.message : "The backend failed while answering.";
  if (isAnthropicType(type)) return errorBody(type, message, OPENAI_TYPE[type]);
  return errorBody(type ?? "upstream_error", message, "server_error");
}
