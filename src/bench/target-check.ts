// The first request to a target, before any load: a target that cannot be reached, or
// that answers it with an error (a wrong key, an unknown model, a path that is not an
// OpenAI API), would make every number meaningless, so the benchmark stops with one line
// that says which URL and why.

import type { BenchTarget } from "./measure.ts";
import { chatPath } from "./plan.ts";

/** Longest wait for the first answer: a real backend's first completion may be slow. */
const FIRST_ANSWER_MS = 30_000;
/** Bytes of an error answer shown. */
const SHOWN = 300;

export type CheckResult = { ok: true } | { ok: false; problem: string };

/** Bun's and Node's connection error codes, said plainly. */
const CONNECT_ERRORS: Record<string, string> = {
  ConnectionRefused: "connection refused (nothing listens there)",
  ECONNREFUSED: "connection refused (nothing listens there)",
  ConnectionClosed: "the connection was closed before an answer",
  UND_ERR_SOCKET: "the connection was closed before an answer",
  ECONNRESET: "the connection was reset",
  ENOTFOUND: "unknown host",
  FailedToOpenSocket: "cannot open a connection",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its TLS certificate cannot be verified",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed",
};

type ErrorLike = { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };

function connectProblem(err: unknown): string {
  const outer = err as ErrorLike;
  if (outer?.name === "TimeoutError") return `no answer within ${FIRST_ANSWER_MS / 1000} s`;
  // Node's fetch (undici) rejects with "fetch failed" and the socket's error as its cause
  const e = typeof outer?.code !== "string" && outer?.cause && typeof outer.cause === "object" ? (outer.cause as ErrorLike) : outer;
  const code = typeof e?.code === "string" ? e.code : "";
  if (CONNECT_ERRORS[code]) return CONNECT_ERRORS[code];
  const message = typeof e?.message === "string" ? e.message : String(err);
  return code ? `${message} (${code})` : message;
}

/** The error message of an OpenAI- or Anthropic-style error body, else the text itself. */
export function errorMessageOf(body: string): string {
  try {
    const v = JSON.parse(body) as { error?: unknown; message?: unknown };
    const e = v.error;
    if (typeof e === "string") return e;
    if (e && typeof e === "object") {
      const { message, code } = e as { message?: unknown; code?: unknown };
      if (typeof message === "string") return typeof code === "string" ? `${message} (${code})` : message;
    }
    if (typeof v.message === "string") return v.message;
  } catch {
    // not JSON: the text as it is
  }
  const text = body.replace(/\s+/g, " ").trim();
  return text.length > SHOWN ? `${text.slice(0, SHOWN)}...` : text || "(empty body)";
}

/** Remove every occurrence of the secrets (an upstream may echo a key back in its error). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

/** One plain chat completion; ok when it answers 200 with a chat completion. */
export async function checkTarget(t: BenchTarget, body: string, secrets: readonly string[]): Promise<CheckResult> {
  let res: Response;
  try {
    res = await fetch(new URL(chatPath(t.url), t.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...t.headers },
      body,
      signal: AbortSignal.timeout(FIRST_ANSWER_MS),
    });
  } catch (err) {
    return { ok: false, problem: redact(`cannot reach it: ${connectProblem(err)}`, secrets) };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return { ok: false, problem: redact(`the answer to the first request broke off: ${connectProblem(err)}`, secrets) };
  }
  if (res.status !== 200) {
    return { ok: false, problem: redact(`the first request was answered ${res.status}: ${errorMessageOf(text)}`, secrets) };
  }
  let choices: unknown;
  try {
    // a streamed answer (--stream): its first event is a chat completion chunk
    const json = res.headers.get("content-type")?.startsWith("text/event-stream") ? (/^data: (.*)$/m.exec(text)?.[1] ?? "") : text;
    choices = (JSON.parse(json) as { choices?: unknown }).choices;
  } catch {
    choices = undefined;
  }
  if (!Array.isArray(choices)) {
    return { ok: false, problem: redact(`the first request was answered 200, but not with a chat completion: ${errorMessageOf(text)}`, secrets) };
  }
  return { ok: true };
}
