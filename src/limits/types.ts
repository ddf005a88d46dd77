// The shapes the rate limiter works with. Algorithms live beside this file and are
// pure: every function takes the current time (ms) as an argument.

/** Limits of one scope; null = no limit of that kind. */
export interface LimitSpec {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

export type Scope = "global" | "key" | "model";

/** What the client is told about one kind of limit (x-ratelimit-* headers). */
export interface LimitState {
  limit: number;
  remaining: number;
  /** ms until the limit is fully available again. */
  resetMs: number;
}

export interface Admission {
  ok: true;
  /** The tightest requests and tokens limits that applied, for the response headers. */
  requests: LimitState | null;
  tokens: LimitState | null;
  /**
   * Call when the request ends, with the real token count (0 if none): frees the
   * concurrency slots and corrects every TPM reservation by (actual - estimate).
   * Idempotent: later calls do nothing, so a cleanup path may call it again safely.
   */
  settle(actualTokens: number, now: number): void;
}

export interface Refusal {
  ok: false;
  scope: Scope;
  kind: "requests" | "tokens" | "concurrency";
  /**
   * ms until a retry could be admitted (Retry-After): the longest wait among the limits
   * that refuse. For concurrency no time can be known; it is CONCURRENCY_RETRY_MS.
   */
  retryAfterMs: number;
  requests: LimitState | null;
  tokens: LimitState | null;
}
