// The HTTP server edge under Bun: the only module that knows Bun.serve (node-server.ts
// is node:http under Node; src/edges picks one). The rest of the gateway is a
// Web-standard handler (Request -> Response) plus the small Connection view.

import type { Connection, ServerHandle, ServerOptions } from "../edges/types.ts";

export async function startServer(opts: ServerOptions): Promise<ServerHandle> {
  const { handler } = opts;
  const server = Bun.serve({
    hostname: opts.host,
    port: opts.port,
    idleTimeout: opts.keepAliveSeconds,
    // The gateway enforces its own (reloadable) body limit with a JSON error; Bun's
    // limit is only the outer bound so that it never answers first with a bare 413.
    maxRequestBodySize: 1024 * 1024 * 1024,
    development: false,
    // Bun turns SO_REUSEPORT on when development is false: a second daemon on the same
    // port would then start and share the traffic instead of failing with EADDRINUSE
    reusePort: false,
    fetch(req, srv) {
      const conn: Connection = {
        clientIp: srv.requestIP(req)?.address ?? "",
        keepOpen: () => srv.timeout(req, 0),
      };
      return handler(req, conn);
    },
    error: opts.onError,
  });
  return {
    host: opts.host,
    port: server.port ?? opts.port,
    stop: (force) => server.stop(force),
    pending: () => server.pendingRequests,
  };
}
