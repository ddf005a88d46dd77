// Where the connect probe of both upstream edges (Bun and Node) goes for a backend URL.

import { describe, expect, test } from "bun:test";
import { connectTarget } from "../../src/proxy/connect-target.ts";

describe("connectTarget", () => {
  test("an explicit port, IPv4 and a name", () => {
    expect(connectTarget("http://10.0.0.5:8000/v1")).toEqual({ host: "10.0.0.5", port: 8000 });
    expect(connectTarget("http://vllm.internal:8000")).toEqual({ host: "vllm.internal", port: 8000 });
  });

  test("the scheme's default port when none is given", () => {
    expect(connectTarget("http://vllm.internal/v1")).toEqual({ host: "vllm.internal", port: 80 });
    expect(connectTarget("https://api.openai.com/v1")).toEqual({ host: "api.openai.com", port: 443 });
  });

  test("IPv6 without its brackets (what a socket connect takes)", () => {
    expect(connectTarget("http://[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(connectTarget("https://[fd00::5]/v1")).toEqual({ host: "fd00::5", port: 443 });
  });

  test("a URL that does not parse: null", () => {
    expect(connectTarget("not a url")).toBeNull();
    expect(connectTarget("")).toBeNull();
  });
});
