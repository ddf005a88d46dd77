import { describe, expect, test } from "bun:test";
import { DEFAULT_MOCK_OPTIONS, MockOptionError, planRequest, resolveMockOptions } from "../../src/mock/options.ts";

describe("mock options", () => {
  test("defaults are 16 tokens, 20 ms apart, no first-token delay, usage on", () => {
    expect(DEFAULT_MOCK_OPTIONS).toEqual({ tokens: 16, delayMs: 20, firstTokenDelayMs: 0, usage: true });
    expect(resolveMockOptions({})).toEqual(DEFAULT_MOCK_OPTIONS);
    expect(resolveMockOptions({ tokens: 3, delayMs: undefined })).toEqual({ ...DEFAULT_MOCK_OPTIONS, tokens: 3 });
  });

  test("a negative or fractional count is refused with its name", () => {
    expect(() => resolveMockOptions({ tokens: -1 })).toThrow("tokens must be a whole number >= 0, got -1");
    expect(() => resolveMockOptions({ delayMs: 1.5 })).toThrow(MockOptionError);
  });
});

describe("x-mock-* request headers", () => {
  const plan = (h: Record<string, string>) => planRequest(new Headers(h), DEFAULT_MOCK_OPTIONS);

  test("without headers a request follows the backend's options and has no fault", () => {
    expect(plan({})).toEqual({
      tokens: 16,
      delayMs: 20,
      firstTokenDelayMs: 0,
      usage: true,
      status: null,
      retryAfter: null,
      hang: null,
      hangAfter: null,
      dropAfter: null,
      gzip: false,
      echo: false,
    });
  });

  test("every header overrides its option", () => {
    const p = plan({
      "x-mock-tokens": "3",
      "x-mock-delay-ms": "0",
      "x-mock-first-token-delay-ms": "250",
      "x-mock-usage": "0",
      "x-mock-status": "429",
      "x-mock-retry-after": "7",
      "x-mock-hang": "body",
      "x-mock-hang-after": "2",
      "x-mock-drop-after": "1",
      "x-mock-gzip": "1",
      "x-mock-echo": "true",
    });
    expect(p).toEqual({
      tokens: 3,
      delayMs: 0,
      firstTokenDelayMs: 250,
      usage: false,
      status: 429,
      retryAfter: "7",
      hang: "body",
      hangAfter: 2,
      dropAfter: 1,
      gzip: true,
      echo: true,
    });
  });

  test("x-mock-no-usage: 1 turns usage off like x-mock-usage: 0", () => {
    expect(plan({ "x-mock-no-usage": "1" }).usage).toBe(false);
    expect(plan({ "x-mock-no-usage": "0" }).usage).toBe(true);
  });

  test("a malformed header fails loudly, naming the header and the value", () => {
    expect(() => plan({ "x-mock-tokens": "abc" })).toThrow('x-mock-tokens must be a whole number >= 0, got "abc"');
    expect(() => plan({ "x-mock-tokens": "-2" })).toThrow(MockOptionError);
    expect(() => plan({ "x-mock-status": "200" })).toThrow('x-mock-status must be an error status 400..599, got "200"');
    expect(() => plan({ "x-mock-hang": "forever" })).toThrow('x-mock-hang must be "headers" or "body", got "forever"');
    expect(() => plan({ "x-mock-gzip": "yes" })).toThrow('x-mock-gzip must be 0 or 1, got "yes"');
  });
});
