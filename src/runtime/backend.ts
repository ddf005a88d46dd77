// A backend as the runtime uses it: its config, how to call it, and its shared state.

import type { BackendConfig } from "../config/types.ts";
import type { MockBackend } from "../mock/handler.ts";
import type { BackendState } from "../routing/backend-state.ts";
import { upstreamFetch, type FetchFn } from "../proxy/upstream-client.ts";

export interface Backend {
  readonly name: string;
  readonly config: BackendConfig;
  /** Base URL the request path is appended to. */
  readonly baseUrl: string;
  readonly fetch: FetchFn;
  /** Whether connect timeouts apply (false for the in-process mock). */
  readonly network: boolean;
  readonly state: BackendState;
}

/** The mock provider runs in this process: no socket, its handler is called directly. */
const MOCK_BASE = "http://mock.llmproxy.internal";

export function createBackend(config: BackendConfig, state: BackendState): Backend {
  if (config.provider === "mock") {
    // Loaded on the first request: a gateway without mock backends never pays for the
    // mock's code (its wire formats, zlib for the gzip fault).
    let mock: Promise<MockBackend> | null = null;
    const load = () =>
      (mock ??= import("../mock/handler.ts").then((m) =>
        m.createMockBackend({
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
      fetch: async (url, headers, body, signal) => (await load()).fetch(new Request(url, { method: "POST", headers, body, signal })),
      network: false,
      state,
    };
  }
  return { name: config.name, config, baseUrl: config.url, fetch: upstreamFetch, network: true, state };
}
