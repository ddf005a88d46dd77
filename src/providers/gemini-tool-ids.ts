// OpenAI tool call ids for Gemini function calls, which have none (Gemini answers a
// functionCall with a functionResponse by name and position). The id is made from the
// answer itself, so it is stable (the same answer always gives the same ids, whole or
// streamed) and needs no state in the gateway:
//
//   call_<k>_r<responseId>        the k-th call of the answer (call_<c>_<k>_... for choice c > 0)
//   call_<k>_ts_<signature>       the same, when the call carries a thought signature
//
// Gemini 3 refuses (400) a conversation whose earlier functionCall parts come back
// without the thoughtSignature they were answered with ("Thought signatures", Gemini API
// docs). An OpenAI client keeps nothing but the id, and sends it back verbatim in the
// assistant message's tool_calls, so the signature rides in the id. It is written in
// base64url without padding, so the id stays within [A-Za-z0-9_-]: Anthropic requires
// that of tool_use ids, and a conversation may later be routed to an Anthropic backend.
// The "r" before the response id keeps a response id that starts with "ts_" from ever
// being read as a signature.

const SIGNED = /^call_(?:\d+_)?\d+_ts_([A-Za-z0-9_-]+)$/;

function toBase64Url(b64: string): string {
  let end = b64.length;
  while (end > 0 && b64.charCodeAt(end - 1) === 61 /* = */) end--;
  return b64.slice(0, end).replace(/\+/g, "-").replace(/\//g, "_");
}

function fromBase64Url(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  return b64 + "=".repeat((4 - (b64.length % 4)) % 4);
}

/** The OpenAI id of the k-th function call of choice `choice` in an answer. */
export function toolCallId(responseId: string, choice: number, k: number, signature: string | null): string {
  const prefix = choice > 0 ? `call_${choice}_${k}` : `call_${k}`;
  if (signature !== null && signature !== "") return `${prefix}_ts_${toBase64Url(signature)}`;
  // Response ids are URL-safe already; anything else is left out rather than escaped.
  const rid = responseId.replace(/[^A-Za-z0-9_-]/g, "");
  return rid === "" ? prefix : `${prefix}_r${rid}`;
}

/** The thought signature carried in a tool call id (standard base64, as Gemini sent it), or null. */
export function signatureFromToolCallId(id: string): string | null {
  const m = SIGNED.exec(id);
  return m === null ? null : fromBase64Url(m[1]!);
}
