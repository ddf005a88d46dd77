// Every error llmproxy can answer with, declared once: a stable code (what retry and
// health logic decide on, what clients match), the HTTP status, the OpenAI error `type`,
// and a message that tells the caller what to fix. On the wire every error is
// {"error":{"message","type","param","code"}} (OpenAI's shape; the SDKs surface them).

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "server_error"
  | "api_error"
  | "timeout_error";

interface ErrorSpec {
  status: number;
  type: ErrorType;
  /** Default message; a throw site may give a more precise one. */
  message: string;
}

export const ERRORS = {
  invalid_json: { status: 400, type: "invalid_request_error", message: "The request body is not valid JSON." },
  invalid_request: { status: 400, type: "invalid_request_error", message: "The request is not valid." },
  missing_model: { status: 400, type: "invalid_request_error", message: "The request has no \"model\": say which model to use." },
  endpoint_not_supported: { status: 400, type: "invalid_request_error", message: "No backend of this model can serve this endpoint." },
  model_not_found: { status: 404, type: "invalid_request_error", message: "The model does not exist or you do not have access to it." },
  not_found: { status: 404, type: "invalid_request_error", message: "No such endpoint." },
  method_not_allowed: { status: 405, type: "invalid_request_error", message: "Method not allowed on this endpoint." },
  request_too_large: { status: 413, type: "invalid_request_error", message: "The request body is larger than this gateway accepts." },
  missing_api_key: { status: 401, type: "authentication_error", message: "No API key: send it as Authorization: Bearer <key> (or x-api-key / api-key)." },
  invalid_api_key: { status: 401, type: "authentication_error", message: "The API key is not valid." },
  key_revoked: { status: 401, type: "authentication_error", message: "The API key has been revoked." },
  key_expired: { status: 401, type: "authentication_error", message: "The API key has expired." },
  model_not_allowed: { status: 403, type: "permission_error", message: "This API key may not use this model." },
  ip_not_allowed: { status: 403, type: "permission_error", message: "This API key may not be used from this address." },
  insufficient_quota: { status: 429, type: "insufficient_quota", message: "The API key has used its token quota." },
  rate_limit_exceeded: { status: 429, type: "rate_limit_error", message: "Rate limit reached; retry after the time in Retry-After." },
  admin_disabled: { status: 404, type: "invalid_request_error", message: "The admin API is off: set admin_token in the config to enable it." },
  admin_unauthorized: { status: 401, type: "authentication_error", message: "Missing or wrong admin token (Authorization: Bearer <admin_token>)." },
  reload_failed: { status: 422, type: "invalid_request_error", message: "The new config is invalid; the running config stays in force." },
  upstream_connect_error: { status: 502, type: "server_error", message: "Could not connect to the backend." },
  upstream_connect_timeout: { status: 504, type: "timeout_error", message: "Timed out connecting to the backend." },
  upstream_first_byte_timeout: { status: 504, type: "timeout_error", message: "The backend did not start answering in time." },
  upstream_idle_timeout: { status: 504, type: "timeout_error", message: "The backend stopped sending data for too long." },
  upstream_total_timeout: { status: 504, type: "timeout_error", message: "The request took longer than the total time allowed." },
  upstream_error: { status: 502, type: "server_error", message: "The backend failed while answering." },
  no_backend_available: { status: 503, type: "server_error", message: "No backend is available to serve this model right now." },
  shutting_down: { status: 503, type: "server_error", message: "The gateway is shutting down; retry on another instance." },
  internal_error: { status: 500, type: "server_error", message: "Internal error in the gateway." },
  // Never sent (the client is gone); used in logs and metrics, like nginx's 499.
  client_closed_request: { status: 499, type: "invalid_request_error", message: "The client closed the request." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalogue code; what request handling throws and answers with. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  /** Extra headers for the answer (Retry-After, ...). */
  readonly headers: Record<string, string> | undefined;
  /** The request field at fault (OpenAI's `param`), when there is one. */
  readonly param: string | null;

  constructor(
    code: ErrorCode,
    message?: string,
    opts?: { status?: number; type?: ErrorType; headers?: Record<string, string>; param?: string; cause?: unknown },
  ) {
    const spec = ERRORS[code];
    super(message ?? spec.message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "GatewayError";
    this.code = code;
    this.status = opts?.status ?? spec.status;
    this.type = opts?.type ?? spec.type;
    this.headers = opts?.headers;
    this.param = opts?.param ?? null;
  }
}

export function errorBody(code: string, message: string, type: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** The OpenAI JSON body of an error. */
export function gatewayErrorBody(err: GatewayError): string {
  return errorBody(err.code, err.message, err.type, err.param);
}

/** The wire answer for an error: OpenAI JSON (`body`, when already built), the right status, x-request-id. */
export function errorResponse(err: GatewayError, requestId: string, body: string = gatewayErrorBody(err)): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": requestId,
    ...err.headers,
  };
  return new Response(body, { status: err.status, headers });
}

/** Any thrown value as a GatewayError (unknown ones become internal_error). */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError("internal_error", undefined, { cause: err });
}
