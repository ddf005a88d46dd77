// A fake OpenAI backend whose behaviour a test switches while the gateway runs: answer
// normally, refuse every inference request with one status (and a Retry-After), or hang
// before sending headers; and a health-probe path whose answer can be turned to failing.
// The x-mock-* headers cannot do this: the gateway forwards them to every target of a
// route, so they make all of a route's backends fail at once, not one of them.
//
// It is src/mock's handler behind the test's own Bun.serve: a fault is the matching
// x-mock-* header added to the request before the handler sees it, so the wire format
// of refusals and the abort of a hung request are the mock's own.

import { createMockBackend, type MockBackend } from "../../src/mock/handler.ts";
import { resolveMockOptions, type MockOptions } from "../../src/mock/options.ts";

export type Behaviour =
  | { kind: "ok" }
  /** Every inference request is answered with this status (and Retry-After, when given). */
  | { kind: "status"; status: number; retryAfter?: string }
  /** Every inference request gets no headers until the client (the gateway) gives up. */
  | { kind: "hang" };

export interface SwitchableOptions extends Partial<MockOptions> {
  behaviour?: Behaviour;
  /** The path that answers health probes: 200 while probeOk, else 503. */
  probePath?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Listen with SO_REUSEPORT, beside a socket that holds the port (refusing-ports.ts). */
  reusePort?: boolean;
}

export interface ProbeSeen {
  ok: boolean;
  headers: Headers;
}

export interface SwitchableBackend {
  url: string;
  backend: MockBackend;
  /** What inference requests get from now on. */
  set(b: Behaviour): void;
  /** Whether the probe path answers 200 (true) or 503 (false) from now on. */
  setProbe(ok: boolean): void;
  /** Inference requests that arrived (any behaviour). */
  readonly arrived: number;
  /** Probes that arrived. */
  readonly probes: number;
  /** The next probe to arrive (with the answer it got). */
  nextProbe(): Promise<ProbeSeen>;
  /** Stop listening: new connections are refused, open ones closed. */
  stop(): Promise<void>;
}

export async function startSwitchableBackend(opts: SwitchableOptions = {}): Promise<SwitchableBackend> {
  const backend = createMockBackend(resolveMockOptions(opts), { silentDrops: true });
  const probePath = opts.probePath ?? "/probe";
  let behaviour: Behaviour = opts.behaviour ?? { kind: "ok" };
  let probeOk = true;
  let arrived = 0;
  let probes = 0;
  const probeWaiters: ((p: ProbeSeen) => void)[] = [];
  let stopped = false;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    reusePort: opts.reusePort ?? false,
    async fetch(req, srv) {
      // a hung request waits for the gateway's own timeout, never Bun's idle cut
      srv.timeout(req, 0);
      const path = new URL(req.url).pathname;
      if (req.method === "GET" && path === probePath) {
        probes++;
        const ok = probeOk;
        for (const w of probeWaiters.splice(0)) w({ ok, headers: req.headers });
        return new Response(ok ? `{"status":"ok"}` : `{"status":"failing"}`, { status: ok ? 200 : 503, headers: { "content-type": "application/json" } });
      }
      if (req.method !== "POST") return backend.fetch(req);
      arrived++;
      const b = behaviour;
      if (b.kind === "ok") return backend.fetch(req);
      const headers = new Headers(req.headers);
      if (b.kind === "status") {
        headers.set("x-mock-status", String(b.status));
        if (b.retryAfter !== undefined) headers.set("x-mock-retry-after", b.retryAfter);
      } else {
        headers.set("x-mock-hang", "headers");
      }
      const body = await req.text();
      return backend.fetch(new Request(req.url, { method: "POST", headers, body, signal: req.signal }));
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    backend,
    set: (b) => (behaviour = b),
    setProbe: (ok) => (probeOk = ok),
    get arrived() {
      return arrived;
    },
    get probes() {
      return probes;
    },
    nextProbe: () => new Promise((r) => probeWaiters.push(r)),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop(true);
    },
  };
}
