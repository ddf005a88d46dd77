// The fake backend on a real socket (the runtime's HTTP server edge): for `llmproxy
// mock`, benchmarks and end-to-end tests. Everything but the socket lives in handler.ts.

import { edges } from "../edges/edges.ts";
import { createMockBackend, type MockBackend } from "./handler.ts";
import { resolveMockOptions, type MockOptions } from "./options.ts";

export interface MockServer {
  /** http://HOST:PORT, no trailing slash. */
  url: string;
  port: number;
  backend: MockBackend;
  /** Stops listening and closes every connection, hung ones included. */
  stop(): Promise<void>;
}

export interface MockServerOptions extends Partial<MockOptions> {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Pin ids and `created` (tests that compare whole answers byte for byte). */
  idTag?: string;
  now?: () => number;
}

export async function startMockServer(opts: MockServerOptions = {}): Promise<MockServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const backend = createMockBackend(resolveMockOptions(opts), { silentDrops: true, idTag: opts.idTag, now: opts.now });
  const server = await edges.startServer({
    host: hostname,
    port: opts.port ?? 0,
    keepAliveSeconds: 10,
    handler(req, conn) {
      // the server's idle cut (Bun.serve: 10 s without bytes) must never end a mock that
      // streams with long pauses, or hangs on purpose until the client gives up
      conn.keepOpen();
      return backend.fetch(req);
    },
    onError: (err) => new Response(`mock server error: ${String(err)}`, { status: 500 }),
  });
  const port = server.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}`,
    port,
    backend,
    async stop() {
      // true: close active connections too, or a hung request would keep it open forever.
      await server.stop(true);
    },
  };
}
