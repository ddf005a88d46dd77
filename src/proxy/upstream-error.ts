// A backend's refusal (4xx/5xx), passed on with its status in OpenAI's error shape.
// Servers disagree on the shape: OpenAI and recent vLLM send {"error":{...}}, older vLLM
// {"object":"error","message",...}, FastAPI-based servers {"detail": ...}, llama.cpp and
// TGI {"error": "text"}, proxies in between plain text or HTML.

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

/** The OpenAI-form body for a backend error answer. Already OpenAI-shaped bodies pass as they are. */
export function openAiErrorBody(status: number, text: string, backendName: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fallbackCode = `upstream_http_${status}`;
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const e = o.error;
    if (e && typeof e === "object" && !Array.isArray(e) && str((e as Record<string, unknown>).message)) return text;
    const message =
      str(e) ??
      str(o.message) ??
      (typeof o.detail === "string" ? o.detail : o.detail !== undefined ? JSON.stringify(o.detail) : null) ??
      text.slice(0, MAX_MESSAGE);
    const type = str(o.type) ?? typeForStatus(status);
    const code = str(o.code) ?? (typeof o.code === "number" ? String(o.code) : fallbackCode);
    return errorBody(code, message, type, str(o.param));
  }
  const plain = text.trim().slice(0, MAX_MESSAGE) || `backend ${backendName} answered HTTP ${status}`;
  return errorBody(fallbackCode, plain, typeForStatus(status));
}
