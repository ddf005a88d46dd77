import { describe, expect, test } from "bun:test";
import { httpUrlProblem, normalizeBaseUrl } from "../../src/config/http-url.ts";
import { listenProblem, parseListen } from "../../src/config/listen.ts";
import { formatPath, pointerToPath } from "../../src/config/paths.ts";
import { closest, isSecretPath, schemaTypesAt } from "../../src/config/schema.ts";
import { formatDuration, parseDuration, parseSize } from "../../src/config/units.ts";

describe("parseDuration", () => {
  test.each([
    ["500ms", 500],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["10m", 600_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["0s", 0],
    ["1h30m", 5_400_000],
    ["0.5ms", 1],
  ])("%p is %p ms", (s, ms) => expect(parseDuration(s)).toBe(ms));

  test.each(["", "5", "5 s", "5 sec", "-1s", "1.s", ".5s", "5S", "1w", "ms", "5s ", "1e3ms"])("%p is not a duration", (s) => {
    expect(parseDuration(s)).toBeNull();
  });
});

describe("formatDuration", () => {
  test.each([
    [500, "500ms"],
    [5_000, "5s"],
    [1_500, "1.5s"],
    [90_000, "90s"],
    [600_000, "10m"],
    [7_200_000, "2h"],
    [86_400_000, "1d"],
    [0, "0s"],
  ])("%p ms is %p", (ms, s) => expect(formatDuration(ms)).toBe(s));

  test("what it formats parses back to the same value", () => {
    for (const ms of [1, 999, 1_000, 1_001, 61_000, 3_600_000, 123_456_789]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe("parseSize", () => {
  test.each([
    [1024, 1024],
    [0, 0],
    ["1024", 1024],
    ["512KiB", 524_288],
    ["10MiB", 10_485_760],
    ["1GiB", 1_073_741_824],
    ["10MB", 10_000_000],
    ["100kb", 100_000],
    ["1.5KiB", 1_536],
    ["7B", 7],
    ["16mib", 16_777_216],
  ] as const)("%p is %p bytes", (s, bytes) => expect(parseSize(s)).toBe(bytes));

  test.each(["", "10 MiB", "10 megs", "1.5", "1.5B", "-1", "KiB", "10M", "1e3", "10XB"])("%p is not a size", (s) => {
    expect(parseSize(s)).toBeNull();
  });

  test.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])("the number %p is not a size", (n) => {
    expect(parseSize(n)).toBeNull();
  });
});

describe("listen addresses", () => {
  test.each([
    ["127.0.0.1:8080", "127.0.0.1", 8080],
    ["0.0.0.0:0", "0.0.0.0", 0],
    ["localhost:65535", "localhost", 65535],
    ["[::1]:8080", "::1", 8080],
    ["[::]:80", "::", 80],
    ["gateway.internal:443", "gateway.internal", 443],
  ])("%p is host %p port %p", (s, host, port) => expect(parseListen(s)).toEqual({ host, port }));

  test.each([
    ["8080", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
    [":8080", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
    ["127.0.0.1", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
    ["127.0.0.1:http", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
    ["127.0.0.1:65536", "the port must be 0-65535 (0 picks a free port)"],
    ["::1:8080", "put an IPv6 address in brackets, e.g. [::1]:8080"],
    ["[localhost]:80", '"localhost" is not an IPv6 address; use host:port, e.g. 127.0.0.1:8080 or [::1]:8080'],
    ["[::1]8080", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
    ["bad_host:80", "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080"],
  ])("%p is refused: %s", (s, reason) => {
    expect(parseListen(s)).toBeNull();
    expect(listenProblem(s)).toBe(reason);
  });
});

describe("backend URLs", () => {
  test.each(["http://127.0.0.1:8000", "https://api.openai.com", "http://[::1]:8000/", "http://vllm:8000/v1", "https://x.example/base/path"])(
    "%p is a base URL",
    (u) => expect(httpUrlProblem(u)).toBeNull(),
  );

  test.each([
    ["localhost:8000", "must be an http(s) URL"],
    ["127.0.0.1:8000", "must be an http(s) URL"],
    ["ws://x", "must be an http(s) URL"],
    ["http://", "must be an http(s) URL"],
    ["http://x/?a=1", "must be an http(s) URL without a ?query"],
    ["http://x/?", "must be an http(s) URL without a ?query"],
    ["http://x/#f", "must be an http(s) URL without a #fragment"],
    ["http://u:p@x/", "must be an http(s) URL without user:password@ (use api_key or headers)"],
  ])("%p is refused: %s", (u, reason) => expect(httpUrlProblem(u)).toBe(reason));

  test("trailing slashes are dropped so that base + path never doubles one", () => {
    expect(normalizeBaseUrl("http://x:8000/")).toBe("http://x:8000");
    expect(normalizeBaseUrl("http://x:8000/v1//")).toBe("http://x:8000/v1");
    expect(normalizeBaseUrl("http://x:8000")).toBe("http://x:8000");
  });
});

describe("paths", () => {
  test("segments print the way they are written in messages", () => {
    expect(formatPath(["backends", 1, "url"])).toBe("backends[1].url");
    expect(formatPath([])).toBe("");
    expect(formatPath(["backends", 0, "headers", "x-api-version"])).toBe("backends[0].headers.x-api-version");
    expect(formatPath(["backends", 0, "headers", "a.b"])).toBe('backends[0].headers["a.b"]');
  });

  test("a JSON pointer becomes segments, with array indexes as numbers", () => {
    const data = { backends: [{ headers: { "a/b": "1" } }] };
    expect(pointerToPath("/backends/0/headers/a~1b", data)).toEqual(["backends", 0, "headers", "a/b"]);
    expect(pointerToPath("", data)).toEqual([]);
  });
});

describe("did you mean", () => {
  const keys = ["listen", "admin_token", "server", "backends", "models", "retries", "timeouts", "metrics", "log"];
  test.each([
    ["listn", "listen"],
    ["lsiten", "listen"],
    ["Listen", "listen"],
    ["backend", "backends"],
    ["model", "models"],
    ["timeout", "timeouts"],
    ["admintoken", "admin_token"],
    ["logs", "log"],
  ])("%p suggests %p", (typo, want) => expect(closest(typo, keys)).toBe(want));

  test.each(["database", "auth", "x", "limits"])("%p suggests nothing", (word) => expect(closest(word, keys)).toBeUndefined());
});

describe("schema lookups", () => {
  test("the types the schema allows at a path", () => {
    expect(schemaTypesAt(["listen"])).toEqual(["string"]);
    expect(schemaTypesAt(["server", "max_body"])).toEqual(["string", "integer"]);
    expect(schemaTypesAt(["backends", 3, "weight"])).toEqual(["integer"]);
    expect(schemaTypesAt(["backends", 0, "headers", "x-any"])).toEqual(["string"]);
    expect(schemaTypesAt(["backends", 0, "timeouts", "idle"])).toEqual(["string"]);
    expect(schemaTypesAt(["models", 0, "name"])).toEqual(["string"]);
    expect(schemaTypesAt(["nope"])).toBeUndefined();
  });

  test("secrets", () => {
    expect(isSecretPath(["admin_token"])).toBe(true);
    expect(isSecretPath(["backends", 2, "api_key"])).toBe(true);
    expect(isSecretPath(["backends", 2, "headers", "authorization"])).toBe(true);
    expect(isSecretPath(["backends", 2, "url"])).toBe(false);
  });
});
