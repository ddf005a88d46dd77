// What the fake backend does: the process-wide options (from the CLI, the demo config or
// a test) and the per-request overrides a client asks for with x-mock-* headers. Every
// fault the test-suite needs is a header, so one mock serves all tests at once.
//
// Two plans per request: RequestPlan (length, timing, usage on/off, faults every wire
// format has: status, hang, drop, gzip, echo) and AnswerFeatures (what only some wire
// formats can say: prompt-cache tokens, thinking, an error event inside a stream).

export interface MockOptions {
  /** Completion tokens per answer (before max_tokens and friends cut it). */
  tokens: number;
  /** Pause between two tokens of a stream, in ms. */
  delayMs: number;
  /** Pause before the first token (time to first token), in ms. */
  firstTokenDelayMs: number;
  /** Report token usage in answers (off = a backend that never reports it). */
  usage: boolean;
}

export const DEFAULT_MOCK_OPTIONS: MockOptions = Object.freeze({ tokens: 16, delayMs: 20, firstTokenDelayMs: 0, usage: true });

/** A bad option or x-mock-* header value; the message names it and the value given. */
export class MockOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MockOptionError";
  }
}

/** Merges a partial set over the defaults (undefined = default) and checks each value. */
export function resolveMockOptions(partial: Partial<MockOptions> = {}): MockOptions {
  const opts: MockOptions = {
    tokens: partial.tokens ?? DEFAULT_MOCK_OPTIONS.tokens,
    delayMs: partial.delayMs ?? DEFAULT_MOCK_OPTIONS.delayMs,
    firstTokenDelayMs: partial.firstTokenDelayMs ?? DEFAULT_MOCK_OPTIONS.firstTokenDelayMs,
    usage: partial.usage ?? DEFAULT_MOCK_OPTIONS.usage,
  };
  for (const key of ["tokens", "delayMs", "firstTokenDelayMs"] as const) {
    const v = opts[key];
    if (!Number.isSafeInteger(v) || v < 0) throw new MockOptionError(`${key} must be a whole number >= 0, got ${String(v)}`);
  }
  return opts;
}

/** How a request stalls: never send headers, or send a little and then stop. */
export type HangMode = "headers" | "body";

/** Everything one request does, after its x-mock-* headers were applied. */
export interface RequestPlan {
  tokens: number;
  delayMs: number;
  firstTokenDelayMs: number;
  usage: boolean;
  /** x-mock-status: answer this error status at once. */
  status: number | null;
  /** x-mock-retry-after: value of the retry-after header of that error. */
  retryAfter: string | null;
  hang: HangMode | null;
  /** Stream this many tokens, then stall until the client gives up. */
  hangAfter: number | null;
  /** Stream this many tokens, then reset the connection. */
  dropAfter: number | null;
  gzip: boolean;
  echo: boolean;
}

function wholeNumber(name: string, value: string): number {
  // Digits only: "1e3", "0x10", " 5" and "" are typos, not numbers, in a test header.
  if (!/^\d{1,9}$/.test(value)) throw new MockOptionError(`${name} must be a whole number >= 0, got "${value}"`);
  return Number(value);
}

function flag(name: string, value: string): boolean {
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw new MockOptionError(`${name} must be 0 or 1, got "${value}"`);
}

/**
 * The options of one request: the backend's options overridden by its x-mock-* headers.
 * Throws MockOptionError (answered as a 400) on a malformed header, so a typo in a test
 * fails loudly instead of silently testing the default.
 */
export function planRequest(headers: Headers, opts: MockOptions): RequestPlan {
  const plan: RequestPlan = {
    tokens: opts.tokens,
    delayMs: opts.delayMs,
    firstTokenDelayMs: opts.firstTokenDelayMs,
    usage: opts.usage,
    status: null,
    retryAfter: null,
    hang: null,
    hangAfter: null,
    dropAfter: null,
    gzip: false,
    echo: false,
  };
  let v = headers.get("x-mock-tokens");
  if (v !== null) plan.tokens = wholeNumber("x-mock-tokens", v);
  v = headers.get("x-mock-delay-ms");
  if (v !== null) plan.delayMs = wholeNumber("x-mock-delay-ms", v);
  v = headers.get("x-mock-first-token-delay-ms");
  if (v !== null) plan.firstTokenDelayMs = wholeNumber("x-mock-first-token-delay-ms", v);
  v = headers.get("x-mock-usage");
  if (v !== null) plan.usage = flag("x-mock-usage", v);
  v = headers.get("x-mock-no-usage");
  if (v !== null && flag("x-mock-no-usage", v)) plan.usage = false;
  v = headers.get("x-mock-status");
  if (v !== null) {
    const status = wholeNumber("x-mock-status", v);
    if (status < 400 || status > 599) throw new MockOptionError(`x-mock-status must be an error status 400..599, got "${v}"`);
    plan.status = status;
  }
  v = headers.get("x-mock-retry-after");
  if (v !== null) {
    wholeNumber("x-mock-retry-after", v);
    plan.retryAfter = v;
  }
  v = headers.get("x-mock-hang");
  if (v !== null) {
    if (v !== "headers" && v !== "body") throw new MockOptionError(`x-mock-hang must be "headers" or "body", got "${v}"`);
    plan.hang = v;
  }
  v = headers.get("x-mock-hang-after");
  if (v !== null) plan.hangAfter = wholeNumber("x-mock-hang-after", v);
  v = headers.get("x-mock-drop-after");
  if (v !== null) plan.dropAfter = wholeNumber("x-mock-drop-after", v);
  v = headers.get("x-mock-gzip");
  if (v !== null) plan.gzip = flag("x-mock-gzip", v);
  v = headers.get("x-mock-echo");
  if (v !== null) plan.echo = flag("x-mock-echo", v);
  return plan;
}

/** Provider features an answer shows on request; each endpoint uses those its wire format has. */
export interface AnswerFeatures {
  /**
   * x-mock-cache-read: N: the prompt also had N tokens read from the provider's prompt
   * cache, on top of the counted prompt (Anthropic cache_read_input_tokens, OpenAI
   * prompt_tokens_details.cached_tokens, Gemini cachedContentTokenCount).
   */
  cacheRead: number;
  /** x-mock-cache-write: N: N more prompt tokens written to the cache (Anthropic cache_creation_input_tokens; others have none). */
  cacheWrite: number;
  /** x-mock-thinking: N: N thinking tokens before the answer (Anthropic thinking block, Gemini thoughtsTokenCount and thought parts). */
  thinking: number;
  /** x-mock-error-after: N: stream N tokens, then the provider's in-stream error event (overloaded), and end the stream. */
  errorAfter: number | null;
}

export const NO_FEATURES: AnswerFeatures = Object.freeze({ cacheRead: 0, cacheWrite: 0, thinking: 0, errorAfter: null });

/** The x-mock-* headers of AnswerFeatures; malformed values throw MockOptionError like planRequest. */
export function planFeatures(headers: Headers): AnswerFeatures {
  const read = headers.get("x-mock-cache-read");
  const write = headers.get("x-mock-cache-write");
  const thinking = headers.get("x-mock-thinking");
  const errorAfter = headers.get("x-mock-error-after");
  // The common request has none of them: share one frozen object.
  if (read === null && write === null && thinking === null && errorAfter === null) return NO_FEATURES;
  return {
    cacheRead: read === null ? 0 : wholeNumber("x-mock-cache-read", read),
    cacheWrite: write === null ? 0 : wholeNumber("x-mock-cache-write", write),
    thinking: thinking === null ? 0 : wholeNumber("x-mock-thinking", thinking),
    errorAfter: errorAfter === null ? null : wholeNumber("x-mock-error-after", errorAfter),
  };
}
