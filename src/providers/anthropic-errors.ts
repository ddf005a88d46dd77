// Errors in Anthropic's shape, for clients of the /v1/messages front door:
// {"type":"error","error":{"type","message","details":{"error_code"}}}.
//
// - The `type` follows the HTTP status as Anthropic documents it (docs.claude.com
//   /en/api/errors): 400 invalid_request_error, 401 authentication_error, 402
//   billing_error, 403 permission_error, 404 not_found_error, 409 conflict_error, 413
//   request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error, 529
//   overloaded_error. A 503 (vLLM loading or draining, the gateway shutting down, no
//   backend left) is the same situation as Anthropic's 529: overloaded_error.
// - The gateway's stable code (src/errors.ts) goes in `details.error_code`, where the
//   Anthropic SDK reads it into `APIError.errorCode`; the SDK treats an unknown code as
//   the bare type, so clients that know nothing of llmproxy lose nothing.

import type { GatewayError } from "../errors.ts";
import { readErrorBody } from "../proxy/upstream-error.ts";
import type { StreamError } from "./types.ts";

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "billing_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "request_too_large"
  | "rate_limit_error"
  | "timeout_error"
  | "api_error"
  | "overloaded_error";

export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 409:
      return "conflict_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
  }
  // Anthropic uses invalid_request_error for the 4xx it does not list.
  return status >= 500 ? "api_error" : "invalid_request_error";
}

/** The JSON error body, as Anthropic sends it; `code` (a stable code) goes in details.error_code. */
export function anthropicErrorBody(type: AnthropicErrorType, message: string, code: string | null = null, requestId: string | null = null): string {
  const error = code === null ? { type, message } : { type, message, details: { error_code: code } };
  return JSON.stringify(requestId === null ? { type: "error", error } : { type: "error", error, request_id: requestId });
}

/** A gateway error (no key, rate limit, unknown model, ...) as the /v1/messages front door answers it; send it with err.status. */
export function anthropicGatewayErrorBody(err: GatewayError, requestId: string | null = null): string {
  return anthropicErrorBody(anthropicErrorType(err.status), err.message, err.code, requestId);
}

/**
 * A backend's refusal (any body shape, see upstream-error.ts) in Anthropic's form. The
 * code is the backend's own when it gave a word, else upstream_http_<status> (vLLM's
 * numeric `code` only repeats the status, which the client has already).
 */
export function anthropicBackendErrorBody(status: number, text: string, backendName: string): string {
  const f = readErrorBody(status, text, backendName);
  const code = f.code !== null && !/^\d+$/.test(f.code) ? f.code : `upstream_http_${status}`;
  return anthropicErrorBody(anthropicErrorType(status), f.message, code);
}

/** The type for an error the gateway raises mid-stream: it has no status of its own there, so its code decides. */
export function anthropicStreamErrorType(err: StreamError): AnthropicErrorType {
  if (err.type === "timeout_error") return "timeout_error";
  if (err.code === "shutting_down" || err.code === "no_backend_available") return "overloaded_error";
  return "api_error";
}

/** An SSE `error` event, which the Anthropic SDK raises as an APIError of that type. */
export function anthropicErrorEvent(type: AnthropicErrorType, message: string, code: string | null): string {
  return `event: error\ndata: ${anthropicErrorBody(type, message, code)}\n\n`;
}
