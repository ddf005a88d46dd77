// A backend's refusal (4xx/5xx), passed on with its status in OpenAI's error shape.
// Servers disagree on the shape: OpenAI and recent vLLM send {"error":{...}}, older vLLM
// {"object":"error","message",...}, FastAPI-based servers {"detail": ...}, llama.cpp and
// TGI {"error": "text"}, proxies in between plain text or HTML. `readErrorBody` reads
// any of them once; each client protocol renders the result in its own shape (OpenAI
// here, Anthropic in src/providers/anthropic-errors.ts).

import { errorBody, type ErrorType } from "../errors.ts";

export function typeForStatus(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** Longest error text carried into a message; the rest of a huge HTML page is noise. */
const MAX_MESSAGE = 2000;

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** A code the backend gave as a string or a number (vLLM puts the HTTP status there). */
function codeOf(v: unknown): string | null {
  return str(v) ?? (typeof v === "number" ? String(v) : null);
}

/** What a backend's error body says, whatever its shape. */
export interface BackendErrorFields {
  /** The body's message, else its text (cut to 2000 chars), else a sentence naming the backend and status. */
  message: string;
  /** The backend's own error type, when it named one. */
  type: string | null;
  /** The backend's error code, when it gave one. */
  code: string | null;
  param: string | null;
  /** The body is OpenAI's own {"error":{"message",...}}: an OpenAI client can get it unchanged. */
  openAiShaped: boolean;
}

/** Reads a backend error body of any shape (see the file comment). */
export function readErrorBody(status: number, text: string, backendName: string): BackendErrorFields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const e = o.error;
    if (e && typeof e === "object" && !Array.isArray(e)) {
      const eo = e as Record<string, unknown>;
      const m = str(eo.message);
      if (m) return { message: m, type: str(eo.type), code: codeOf(eo.code), param: str(eo.param), openAiShaped: true };
    }
    const message =
      str(e) ??
      str(o.message) ??
      (typeof o.detail === "string" ? o.detail : o.detail !== undefined ? JSON.stringify(o.detail) : null) ??
      text.slice(0, MAX_MESSAGE);
    return { message, type: str(o.type), code: codeOf(o.code), param: str(o.param), openAiShaped: false };
  }
  const plain = text.trim().slice(0, MAX_MESSAGE) || `backend ${backendName} answered HTTP ${status}`;
  return { message: plain, type: null, code: null, param: null, openAiShaped: false };
}

/** The OpenAI-form body for a backend error answer. Already OpenAI-shaped bodies pass as they are. */
export function openAiErrorBody(status: number, text: string, backendName: string): string {
  const f = readErrorBody(status, text, backendName);
  if (f.openAiShaped) return text;
  return errorBody(f.code ?? `upstream_http_${status}`, f.message, f.type ?? typeForStatus(status), f.param);
}
