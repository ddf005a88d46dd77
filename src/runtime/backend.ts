// A backend as the runtime uses it: its config, how to call it, and its shared state.

import type { BackendConfig } from "../config/types.ts";
import { createMockBackend, type MockBackend } from "../mock/handler.ts";
import type { BackendState } from "../routing/backend-state.ts";
import { upstreamFetch, type FetchFn } from "../proxy/upstream-client.ts";
import { isApiBase } from "../config/http-url.ts";

export interface Backend {
  readonly name: string;
  readonly config: BackendConfig;
  /** Base URL the request path is appended to. */
  readonly baseUrl: string;
  /** The base is an API base with its version (https://api.deepseek.com/v1): request paths lose their /v1. */
  readonly apiBase: boolean;
  readonly fetch: FetchFn;
  /** Whether connect timeouts apply (false for the in-process mock). */
  readonly network: boolean;
  readonly state: BackendState;
  /** Headers every request to it carries: its api_key and configured headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Headers it gets when the client did not send them (anthropic-version). */
  readonly defaultHeaders: Readonly<Record<string, string>> | null;
  /** One health probe: GET path; true when it answers 2xx within timeoutMs. */
  probe(path: string, timeoutMs: number): Promise<boolean>;
}

/** The header each provider takes its credential in, and the credential's form. */
function credential(config: BackendConfig, key: string): [string, string] {
  switch (config.provider) {
    case "anthropic":
      return ["x-api-key", key];
    case "gemini":
      return ["x-goog-api-key", key];
    case "azure":
      return ["api-key", key];
    default:
      return ["authorization", `Bearer ${key}`];
  }
}

/** The headers every request to this backend carries (credentials, extra headers). */
export function backendHeaders(config: BackendConfig): Record<string, string> {
  const h: Record<string, string> = {};
  for (const name in config.headers) h[name.toLowerCase()] = config.headers[name]!;
  if (config.apiKey) {
    const [name, value] = credential(config, config.apiKey);
    h[name] = value;
  }
  return h;
}

/**
 * Anthropic's API refuses a request without anthropic-version. A client of the
 * Anthropic front door sends its own (and anthropic-beta), which then wins; an OpenAI
 * client in front of an Anthropic backend gets this one. A configured header wins over both.
 */
const ANTHROPIC_VERSION = "2023-06-01";

export function backendDefaultHeaders(config: BackendConfig): Record<string, string> | null {
  if (config.provider !== "anthropic" || "anthropic-version" in backendHeaders(config)) return null;
  return { "anthropic-version": ANTHROPIC_VERSION };
}

async function probeWith(get: (signal: AbortSignal) => Promise<Response>, timeoutMs: number): Promise<boolean> {
  try {
    const res = await get(AbortSignal.timeout(timeoutMs));
    await res.arrayBuffer().catch(() => {});
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

/** The mock provider runs in this process: no socket, its handler is called directly. */
const MOCK_BASE = "http://mock.llmproxy.internal";

export function createBackend(config: BackendConfig, state: BackendState): Backend {
  if (config.provider === "mock") {
    // Made on the first request. (Not a dynamic import of the mock's code: Bun's bundler
    // then puts a second copy of modules that are also imported statically into the
    // bundle, and instanceof fails across the copies.)
    let mock: Promise<MockBackend> | null = null;
    const load = () =>
      (mock ??= Promise.resolve(
        createMockBackend({
          tokens: config.mock.tokens,
          delayMs: config.mock.delayMs,
          firstTokenDelayMs: config.mock.firstTokenDelayMs,
          usage: config.mock.usage,
        }),
      ));
    return {
      name: config.name,
      config,
      baseUrl: MOCK_BASE,
      apiBase: false,
      fetch: async (url, headers, body, signal) => (await load()).fetch(new Request(url, { method: "POST", headers, body, signal })),
      network: false,
      state,
      headers: backendHeaders(config),
      defaultHeaders: null,
      probe: (path, timeoutMs) => probeWith(async (signal) => (await load()).fetch(new Request(MOCK_BASE + path, { signal })), timeoutMs),
    };
  }
  const headers = backendHeaders(config);
  return {
    name: config.name,
    config,
    baseUrl: config.url,
    apiBase: isApiBase(config.url),
    fetch: upstreamFetch,
    network: true,
    state,
    headers,
    defaultHeaders: backendDefaultHeaders(config),
    probe: (path, timeoutMs) => probeWith((signal) => fetch(config.url + path, { headers: { ...backendDefaultHeaders(config), ...headers }, signal, redirect: "manual" }), timeoutMs),
  };
}
