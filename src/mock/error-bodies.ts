// Error answers in each provider's own shape, so the proxy's error mapping is tested
// against what the real APIs send:
//   OpenAI:    {"error":{"message","type","param","code"}}
//   Anthropic: {"type":"error","error":{"type","message"}}
// Types per status follow the providers' docs (OpenAI error codes guide; Anthropic
// "Errors": 400 invalid_request_error ... 529 overloaded_error).

export type MockProvider = "openai" | "anthropic";

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

export interface MockErrorOptions {
  /** OpenAI `code`; the status decides it when absent. */
  code?: string | null;
  headers?: Record<string, string>;
}

export function mockErrorBody(provider: MockProvider, status: number, message: string, code?: string | null): string {
  if (provider === "anthropic") return JSON.stringify({ type: "error", error: { type: anthropicType(status), message } });
  const [type, defaultCode] = openaiTypeAndCode(status);
  return JSON.stringify({ error: { message, type, param: null, code: code === undefined ? defaultCode : code } });
}

export function mockErrorResponse(provider: MockProvider, status: number, message: string, opts: MockErrorOptions = {}): Response {
  return new Response(mockErrorBody(provider, status, message, opts.code), {
    status,
    headers: { "content-type": "application/json", ...opts.headers },
  });
}
