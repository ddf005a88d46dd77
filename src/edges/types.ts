// The three runtime edges (HTTP server, upstream client, SQLite) plus the few runtime
// services beside them (a worker thread, hashing, ids, a GC hint, bench's sockets and
// children), as the rest of llmproxy sees them. edges.ts picks the Bun or the Node
// implementation once, at start; nothing outside src/edges and the implementation
// modules it names knows which runtime it is on.

// ---- HTTP server ----

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

/**
 * A Web-standard handler. The Request's `signal` aborts when the client goes away
 * before the answer is complete; a Response body stream is cancelled when it does.
 */
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

/** A whole answer's body (Edges.wholeResponse). */
export type WholeBody = string | ArrayBuffer | Uint8Array;

/** Where a streamed answer's bytes go (Edges.streamBody). */
export interface BodySink {
  /**
   * Send these bytes to the client. A promise while the client is slower than the
   * backend: wait for it before reading more (memory per stream stays flat).
   */
  write(chunk: Uint8Array): void | Promise<unknown>;
}

/** What produces a streamed answer's body (Edges.streamBody). */
export interface BodySource {
  /** Write the whole body to `sink`; resolves at its end. A rejection cuts the answer off (the client sees a broken connection). */
  pump(sink: BodySink): Promise<void>;
  /** The client went away before the end (called at most once, while pump runs). */
  cancel(): void;
}

// ---- upstream client ----

/** POST a JSON body upstream; the answer's body streams as it arrives, undecoded headers kept truthful. */
export type FetchFn = (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<Response>;

export type ConnectProbe = "ok" | "refused" | "timeout";

// ---- SQLite driver (src/store/sqlite.ts builds the Db on it) ----

export interface DriverStatement<T> {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): T | null;
  all(...params: unknown[]): T[];
}

export interface SqliteDriver {
  exec(sql: string): void;
  prepare<T>(sql: string): DriverStatement<T>;
  /** fn inside BEGIN IMMEDIATE ... COMMIT; nested calls become savepoints. */
  immediate<R>(fn: () => R): R;
  close(): void;
}

// ---- worker thread ----

/** The main thread's end of a worker. */
export interface Thread {
  post(message: unknown): void;
  onMessage(fn: (message: unknown) => void): void;
  /** The worker threw and stopped. */
  onError(fn: (err: Error) => void): void;
  terminate(): void;
}

/** The worker's end. */
export interface ThreadParent {
  post(message: unknown): void;
  onMessage(fn: (message: unknown) => void): void;
}

/** Worker scripts: each is an entry point of both builds (scripts/build.ts). */
export type ThreadScript = "metering";

// ---- llmproxy bench's tools (loaded only when bench runs) ----

/** A load generator's TCP (or TLS) connection. */
export interface BenchSocket {
  write(bytes: Uint8Array): void;
  /** Close after what was written. */
  end(): void;
  /** Close now (a phase past its time bound). */
  terminate(): void;
}

export interface BenchSocketEvents {
  /** Bytes arrived (a Buffer: the client parses with Buffer's indexOf). */
  data(chunk: Buffer): void;
  /** The connection closed or failed; may be called more than once. */
  closed(err: Error): void;
}

/** A child process of the benchmark: stdin a pipe held open until the benchmark ends (the child stops when it closes), stdout and stderr piped to it. */
export interface BenchChild {
  readonly pid: number;
  /** null until it exits (or when a signal ended it). */
  readonly exitCode: number | null;
  /** The signal that ended it, else null. */
  readonly signalCode: string | number | null;
  /** Its exit code (128 + the signal's number when a signal ended it); rejects when it could not be started. */
  readonly exited: Promise<number>;
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  kill(signal: NodeJS.Signals): void;
}

export interface BenchTools {
  /** Open a connection with TCP_NODELAY; resolves once it can carry requests (TLS: after the handshake). */
  connect(to: { host: string; port: number; tls: boolean }, on: BenchSocketEvents): Promise<BenchSocket>;
  spawn(argv: readonly string[]): BenchChild;
  /** The argv that runs this same llmproxy (the children bench starts). */
  selfCommand(): string[];
}

export interface Edges {
  /** "bun 1.4.5" or "node 20.20.2": for `version`, build_info and logs. */
  readonly runtime: string;
  /** Resolves once the socket listens; rejects with the listen error (code EADDRINUSE, ...). */
  startServer(opts: ServerOptions): Promise<ServerHandle>;
  /**
   * The server sends a streamed answer's header section only with its first body byte
   * (Bun.serve, oven-sh/bun#33660): src/proxy/respond.ts then sends an SSE comment when
   * a backend is slow to start, so that the client gets its status line.
   */
  readonly serverHoldsHeaders: boolean;
  /**
   * `new Response(body, { status, headers })` for a body that is whole in memory, in the
   * form the server sends fastest (Node: its bytes, without the Web stream undici's
   * Response makes of any body). `headers` becomes the Response's own: not used after.
   */
  wholeResponse(body: WholeBody, status: number, headers: Headers): Response;
  /**
   * A streamed answer's body, written by `source` as the bytes come. Bun: a "direct"
   * stream (each write goes to the socket, no queue and no promise per chunk between the
   * backend's read and the client's write); Node: a Web stream of highWaterMark 0.
   */
  streamBody(source: BodySource): ReadableStream<Uint8Array>;
  upstreamFetch: FetchFn;
  /**
   * Called first by commands that proxy, before any work: whatever the runtime reads only
   * at start (Bun: the fetch cap, so that 1000+ upstream requests can be in flight, and
   * the GC's heap floor; it may re-exec the process for them: src/runtime/start-env-bun.ts).
   */
  prepareDaemon(): void;
  /** Try a TCP connection to the URL's host:port within timeoutMs. */
  probeConnect(url: string, timeoutMs: number): Promise<ConnectProbe>;
  /**
   * The SQLite driver's opener, loaded on first use (it throws, with code
   * SQLITE_DRIVER_MISSING, where the runtime has no driver). The opener takes a file
   * that exists already (made by src/store/sqlite.ts) or ":memory:"; its errors keep
   * the driver's `code` (SQLITE_NOTADB, ...).
   */
  loadSqlite(): (path: string) => SqliteDriver;
  startThread(script: ThreadScript): Thread;
  /** Inside a worker: the way to the thread that started it. */
  threadParent(): ThreadParent;
  /** SHA-256 of a string as lowercase hex (key hashes: on every request, so the fastest there is). */
  sha256Hex(s: string): string;
  /** A UUIDv7 (time-ordered): usage record ids. */
  uuidv7(): string;
  /** Ask for an early, non-blocking garbage collection; null where the runtime has no such hint. */
  readonly gcSoon: (() => void) | null;
  /**
   * The load generator's sockets and child processes for `llmproxy bench`. Bun's
   * sockets are kept under Bun: the load generator must cost less CPU than the proxy
   * it measures.
   */
  readonly benchTools: BenchTools;
}
