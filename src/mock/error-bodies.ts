// Error answers in each provider's own shape, so the proxy's error mapping is tested
// against what the real APIs send:
//   OpenAI:    {"error":{"message","type","param","code"}}
//   Anthropic: {"type":"error","error":{"type","message"}}
//   Gemini:    {"error":{"code","message","status"}} (google.rpc.Status; a 429 with
//              retry-after also carries a RetryInfo detail, which is where Gemini says it)
// Types per status follow the providers' docs (OpenAI error codes guide; Anthropic
// "Errors": 400 invalid_request_error ... 529 overloaded_error; Gemini "Troubleshooting":
// 400 INVALID_ARGUMENT ... 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED).
//
// Also the in-stream error events each format has for a failure mid-answer
// (x-mock-error-after), all "overloaded", the usual cause.

export type MockProvider = "openai" | "anthropic" | "gemini";

function openaiTypeAndCode(status: number): [type: string, code: string | null] {
  switch (status) {
    case 400:
      return ["invalid_request_error", null];
    case 401:
      return ["invalid_request_error", "invalid_api_key"];
    case 403:
      return ["permission_error", null];
    case 404:
      return ["invalid_request_error", "not_found"];
    case 429:
      return ["rate_limit_error", "rate_limit_exceeded"];
    default:
      return status >= 500 ? ["server_error", null] : ["invalid_request_error", null];
  }
}

function anthropicType(status: number): string {
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
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    // 529 is Anthropic's "overloaded"; a 503 from a mock means the same thing.
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

function geminiStatus(status: number): string {
  switch (status) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

export interface MockErrorOptions {
  /** OpenAI `code`; the status decides it when absent. */
  code?: string | null;
  headers?: Record<string, string>;
}

export function mockErrorBody(provider: MockProvider, status: number, message: string, code?: string | null, retryAfter?: string): string {
  if (provider === "anthropic") return JSON.stringify({ type: "error", error: { type: anthropicType(status), message } });
  if (provider === "gemini") {
    const error: Record<string, unknown> = { code: status, message, status: geminiStatus(status) };
    if (retryAfter !== undefined) error.details = [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` }];
    return JSON.stringify({ error });
  }
  const [type, defaultCode] = openaiTypeAndCode(status);
  return JSON.stringify({ error: { message, type, param: null, code: code === undefined ? defaultCode : code } });
}

export function mockErrorResponse(provider: MockProvider, status: number, message: string, opts: MockErrorOptions = {}): Response {
  const retryAfter = opts.headers?.["retry-after"];
  // Google says how long to wait in the body only (RetryInfo), never in a header
  const headers = provider === "gemini" && retryAfter !== undefined ? Object.fromEntries(Object.entries(opts.headers!).filter(([k]) => k !== "retry-after")) : opts.headers;
  return new Response(mockErrorBody(provider, status, message, opts.code, retryAfter), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The HTTP status of an overload, which is what a whole answer fails with under x-mock-error-after. */
export function overloadedStatus(provider: MockProvider): number {
  return provider === "anthropic" ? 529 : 503;
}

/** The in-stream error event of an overload, in each SSE format (the Responses API has its own, in openai-responses.ts). */
export function mockStreamErrorEvent(provider: MockProvider): string {
  switch (provider) {
    case "anthropic":
      return `event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`;
    case "gemini":
      return `data: {"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}\r\n\r\n`;
    case "openai":
      return `data: {"error":{"message":"The server is overloaded. Please try again later.","type":"server_error","param":null,"code":null}}\n\n`;
  }
}
