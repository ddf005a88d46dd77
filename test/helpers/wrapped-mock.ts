// The real fake backend (src/mock's handler) behind a Bun.serve of the test's own, for
// what startMockServer does not show: the full request URL (query string included) and
// a gate that holds every request until a number of them are in at the same time.

import { createMockBackend, type MockBackend } from "../../src/mock/handler.ts";
import { resolveMockOptions, type MockOptions } from "../../src/mock/options.ts";

export interface WrappedMock {
  url: string;
  backend: MockBackend;
  /** Request URLs as received, in order of arrival. */
  urls: string[];
  /** The URL of the next request to arrive. */
  nextUrl(): Promise<string>;
  /** Resolves once the gate opened (every held request has been let through). */
  opened: Promise<void>;
  stop(): Promise<void>;
}

export interface WrappedMockOptions extends Partial<MockOptions> {
  /** Hold each request until this many have arrived, then let them all through. */
  gate?: number;
}

export async function startWrappedMock(opts: WrappedMockOptions = {}): Promise<WrappedMock> {
  const backend = createMockBackend(resolveMockOptions(opts), { silentDrops: true });
  const urls: string[] = [];
  const urlWaiters: ((u: string) => void)[] = [];
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let arrived = 0;
  if (!opts.gate) open();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      srv.timeout(req, 0);
      urls.push(req.url);
      urlWaiters.shift()?.(req.url);
      if (opts.gate && ++arrived === opts.gate) open();
      await opened;
      return backend.fetch(req);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    backend,
    urls,
    nextUrl: () => new Promise((r) => urlWaiters.push(r)),
    opened,
    stop: () => server.stop(true),
  };
}
