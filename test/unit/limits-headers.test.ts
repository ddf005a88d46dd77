import { describe, expect, test } from "bun:test";
import { formatResetDuration, rateLimitHeaders, retryAfterHeaders } from "../../src/limits/headers.ts";

describe("x-ratelimit-* headers", () => {
  test("reset durations are written as OpenAI writes them (Go durations)", () => {
    const cases: Array<[number, string]> = [
      [0, "0s"],
      [-5, "0s"],
      [0.4, "1ms"],
      [20, "20ms"],
      [999, "999ms"],
      [1000, "1s"],
      [1020, "1.02s"],
      [1500, "1.5s"],
      [8640, "8.64s"],
      [59_999, "59.999s"],
      [60_000, "1m0s"],
      [90_000, "1m30s"],
      [179_560, "2m59.56s"],
      [360_000, "6m0s"],
      [3_600_000, "1h0m0s"],
      [3_723_004, "1h2m3.004s"],
    ];
    for (const [ms, text] of cases) expect(`${ms} → ${formatResetDuration(ms)}`).toBe(`${ms} → ${text}`);
  });

  test("requests and tokens limits, remaining and reset", () => {
    expect(
      rateLimitHeaders({ limit: 60, remaining: 59, resetMs: 1000 }, { limit: 150_000, remaining: 149_984, resetMs: 6 }),
    ).toEqual({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-tokens": "149984",
      "x-ratelimit-reset-tokens": "6ms",
    });
  });

  test("a kind without a limit sends no headers; remaining is a whole number, never negative", () => {
    expect(rateLimitHeaders(null, null)).toEqual({});
    expect(rateLimitHeaders(null, { limit: 1000, remaining: -40.5, resetMs: 62_400 })).toEqual({
      "x-ratelimit-limit-tokens": "1000",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "1m2.4s",
    });
    expect(rateLimitHeaders({ limit: 10, remaining: 3.7, resetMs: 0 }, null)).toEqual({
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "3",
      "x-ratelimit-reset-requests": "0s",
    });
  });
});

describe("retry-after headers", () => {
  test("whole seconds rounded up and at least 1; retry-after-ms keeps the precise wait", () => {
    expect(retryAfterHeaders(1)).toEqual({ "retry-after": "1", "retry-after-ms": "1" });
    expect(retryAfterHeaders(1000)).toEqual({ "retry-after": "1", "retry-after-ms": "1000" });
    expect(retryAfterHeaders(1001)).toEqual({ "retry-after": "2", "retry-after-ms": "1001" });
    expect(retryAfterHeaders(6600.2)).toEqual({ "retry-after": "7", "retry-after-ms": "6601" });
    expect(retryAfterHeaders(0)).toEqual({ "retry-after": "1", "retry-after-ms": "1" });
  });
});
