// The HTTP server edge: the only module that knows Bun.serve. The rest of the gateway
// is a Web-standard handler (Request -> Response) plus this small Connection view.

export interface Connection {
  /** The client's IP address ("" when the runtime cannot tell). */
  readonly clientIp: string;
  /**
   * Turn off the server's idle timeout for this request. Bun.serve cuts a connection
   * after 10 s without bytes (its default idleTimeout, at most 255 s); a model that
   * thinks for a minute before its first token, or pauses mid-stream, must not be cut.
   * Called once the request body has been read; our own upstream timeouts take over.
   */
  keepOpen(): void;
}

export type Handler = (req: Request, conn: Connection) => Response | Promise<Response>;

export interface ServerOptions {
  host: string;
  port: number;
  /** Idle keep-alive connections are closed after this many seconds (1..255). */
  keepAliveSeconds: number;
  handler: Handler;
  /** Called with errors the handler failed to turn into a Response. */
  onError: (err: unknown) => Response;
}

export interface ServerHandle {
  readonly host: string;
  readonly port: number;
  /** Stop accepting; resolves when every connection is closed (force = cut in-flight requests). */
  stop(force: boolean): Promise<void>;
  /** Requests the server is handling now (a stream counts until its last byte). */
  pending(): number;
}

export function startServer(opts: ServerOptions): ServerHandle {
  const { handler } = opts;
  const server = Bun.serve({
    hostname: opts.host,
    port: opts.port,
    idleTimeout: opts.keepAliveSeconds,
    // The gateway enforces its own (reloadable) body limit with a JSON error; Bun's
    // limit is only the outer bound so that it never answers first with a bare 413.
    maxRequestBodySize: 1024 * 1024 * 1024,
    development: false,
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
