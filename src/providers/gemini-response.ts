// Reading Gemini answers in OpenAI terms: finish reasons, usage, the parts of a candidate
// and errors; shared by the whole-answer decoder and the stream translator
// (openai-to-gemini.ts, gemini-stream.ts).

import { errorBody, type ErrorType } from "../errors.ts";
import { openAiErrorBody, typeForStatus } from "../proxy/upstream-error.ts";
import { toolCallId } from "./gemini-tool-ids.ts";
import type { TranslatedUsage } from "./types.ts";

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function count(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

/**
 * Gemini finishReason → OpenAI finish_reason. Gemini ends a function-calling answer with
 * STOP; OpenAI clients look for "tool_calls" to run the tools. The filter family (SAFETY,
 * RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and the image ones) is content_filter.
 * MALFORMED_FUNCTION_CALL, OTHER, LANGUAGE and reasons newer than this table end the
 * answer without a better OpenAI word: stop.
 */
export function finishReason(reason: unknown, hasToolCalls: boolean): string {
  switch (reason) {
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
    case "IMAGE_PROHIBITED_CONTENT":
    case "IMAGE_RECITATION":
      return "content_filter";
    default:
      return hasToolCalls ? "tool_calls" : "stop";
  }
}

/** Gemini usage in the gateway's terms, and the thinking part of it for OpenAI's reasoning_tokens. */
export interface GeminiUsage {
  usage: TranslatedUsage;
  reasoningTokens: number;
}

/**
 * usageMetadata → usage. promptTokenCount already includes cachedContentTokenCount (the
 * cached part is reported beside it, as OpenAI's cached_tokens); toolUsePromptTokenCount
 * (results of Gemini's own tools) is input the model read, so it counts as prompt.
 * thoughtsTokenCount is not in candidatesTokenCount but is generated and billed as
 * output: it counts as completion tokens, and is reported as OpenAI's
 * completion_tokens_details.reasoning_tokens, like OpenAI's reasoning models do.
 */
export function geminiUsage(meta: unknown): GeminiUsage | null {
  if (!isObject(meta)) return null;
  const thoughts = count(meta.thoughtsTokenCount);
  return {
    usage: {
      promptTokens: count(meta.promptTokenCount) + count(meta.toolUsePromptTokenCount),
      completionTokens: count(meta.candidatesTokenCount) + thoughts,
      cachedTokens: count(meta.cachedContentTokenCount),
      cacheWriteTokens: 0,
    },
    reasoningTokens: thoughts,
  };
}

/** OpenAI's usage object. */
export function openAiUsage(u: GeminiUsage): Json {
  const { promptTokens, completionTokens, cachedTokens } = u.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/** What a candidate's parts hold for an OpenAI client. */
export interface CandidateParts {
  text: string;
  /** The thought summaries (parts with thought: true), as OpenAI-compatible servers send reasoning: reasoning_content. */
  reasoning: string;
  calls: { id: string; name: string; arguments: string }[];
}

/**
 * The answer text, reasoning and function calls among a candidate's parts. Thought parts
 * (thought: true, sent only when a request asks includeThoughts, which the Anthropic door
 * does for extended thinking) are the model's reasoning, not its answer: they go apart,
 * as reasoning_content. Parts an OpenAI message cannot hold (inline images, executable
 * code) are left out. `firstCall` numbers the calls across the events of a stream.
 */
export function candidateParts(content: unknown, ids: { responseId: string; choice: number; firstCall: number }): CandidateParts {
  const out: CandidateParts = { text: "", reasoning: "", calls: [] };
  if (!isObject(content) || !Array.isArray(content.parts)) return out;
  for (const p of content.parts) {
    if (!isObject(p)) continue;
    if (typeof p.text === "string") {
      if (p.thought === true) out.reasoning += p.text;
      else out.text += p.text;
    } else if (isObject(p.functionCall) && typeof p.functionCall.name === "string") {
      const args = isObject(p.functionCall.args) ? JSON.stringify(p.functionCall.args) : "{}";
      const signature = typeof p.thoughtSignature === "string" ? p.thoughtSignature : null;
      const id = toolCallId(ids.responseId, ids.choice, ids.firstCall + out.calls.length, signature);
      out.calls.push({ id, name: p.functionCall.name, arguments: args });
    }
  }
  return out;
}

/** The completion id: Gemini's responseId, which is unique per answer and the same in every event of a stream. */
export function completionId(responseId: string): string {
  return responseId === "" ? "chatcmpl-gemini" : `chatcmpl-${responseId}`;
}

/**
 * google.rpc.Code names → OpenAI type and code. Codes follow what OpenAI clients match
 * (invalid_api_key, model_not_found, rate_limit_exceeded); the others are the status name
 * in lower case, stable and precise.
 */
const BY_STATUS: Readonly<Record<string, [ErrorType, string]>> = {
  INVALID_ARGUMENT: ["invalid_request_error", "invalid_argument"],
  FAILED_PRECONDITION: ["invalid_request_error", "failed_precondition"],
  OUT_OF_RANGE: ["invalid_request_error", "out_of_range"],
  UNAUTHENTICATED: ["authentication_error", "invalid_api_key"],
  PERMISSION_DENIED: ["permission_error", "permission_denied"],
  NOT_FOUND: ["invalid_request_error", "not_found"],
  RESOURCE_EXHAUSTED: ["rate_limit_error", "rate_limit_exceeded"],
  CANCELLED: ["server_error", "cancelled"],
  INTERNAL: ["server_error", "internal"],
  UNAVAILABLE: ["server_error", "unavailable"],
  DEADLINE_EXCEEDED: ["timeout_error", "deadline_exceeded"],
};

/** Gemini's {"error":{"code","message","status","details"}}, also as the one element of an array (the non-SSE stream form). */
function geminiError(text: string): Json | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (Array.isArray(parsed) && parsed.length > 0) parsed = parsed[0];
  if (!isObject(parsed) || !isObject(parsed.error)) return null;
  const e = parsed.error;
  return typeof e.message === "string" && (typeof e.status === "string" || typeof e.code === "number") ? e : null;
}

/** The `reason` of the google.rpc.ErrorInfo among an error's details, if any. */
function errorReason(e: Json): string | null {
  if (!Array.isArray(e.details)) return null;
  for (const d of e.details) if (isObject(d) && typeof d.reason === "string") return d.reason;
  return null;
}

/** The OpenAI error body for a Gemini error object (from a refusal's body or a mid-stream event). */
export function openAiErrorFromGemini(e: Json, status: number): string {
  const message = typeof e.message === "string" && e.message !== "" ? e.message : `Gemini answered HTTP ${status}`;
  const name = typeof e.status === "string" ? e.status : "";
  let [type, code] = BY_STATUS[name] ?? [typeForStatus(status), name === "" ? `upstream_http_${status}` : name.toLowerCase()];
  const reason = errorReason(e);
  // A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID in Gemini's API.
  if (reason === "API_KEY_INVALID" || reason === "API_KEY_EXPIRED") [type, code] = ["authentication_error", "invalid_api_key"];
  else if (name === "NOT_FOUND" && message.includes("models/")) code = "model_not_found";
  return errorBody(code, message, type);
}

/** decodeError: Gemini's error shape mapped; any other body (a proxy's HTML, ...) read like any backend's. */
export function decodeGeminiError(status: number, text: string, backendName: string): string {
  const e = geminiError(text);
  if (e === null) return openAiErrorBody(status, text, backendName);
  return openAiErrorFromGemini(e, typeof e.code === "number" ? e.code : status);
}

/**
 * Seconds Gemini asks to wait before a retry: a 429 carries no Retry-After header but a
 * google.rpc.RetryInfo detail ({"retryDelay":"26s"}). null when there is none.
 */
export function geminiRetryDelaySeconds(text: string): number | null {
  const e = geminiError(text);
  if (e === null || !Array.isArray(e.details)) return null;
  for (const d of e.details) {
    if (!isObject(d) || typeof d.retryDelay !== "string") continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay);
    if (m !== null) return Math.ceil(Number(m[1]));
  }
  return null;
}
