// The HTTP server edge on Node (dist/llmproxy.mjs): node:http in front of the same
// Web-standard handler that bun-server.ts gives to Bun.serve. Everything Node-specific
// stays here: turning an IncomingMessage into a Request, a Response into bytes on the
// socket, the client's departure into req.signal and a cancelled body, and draining.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo, type Socket } from "node:net";
import { getSystemErrorMap } from "node:util";
import type { Connection, ServerHandle, ServerOptions } from "../edges/types.ts";

type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };
/** The part of a body's reader used here (Bun's and the DOM's types differ elsewhere). */
interface Reader {
  read(): Promise<ReadResult>;
  cancel(reason?: unknown): Promise<void>;
}

const noop = () => {};
const decoder = new TextDecoder();
/** Marks the internal "the client left" call, out of the Request's public surface. */
const GONE = Symbol("clientGone");

function aborted(): Error {
  return Object.assign(new Error("aborted: the client closed the connection"), { code: "ECONNRESET" });
}

/** The whole body of a request, read straight off the socket (no Web stream). */
function readAll(msg: IncomingMessage): Promise<Buffer> {
  if (msg.destroyed && !msg.readableEnded) return Promise.reject(msg.errored ?? aborted());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    msg.on("data", (chunk: Buffer) => parts.push(chunk));
    msg.once("end", () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    msg.once("error", reject);
    // destroyed without an error: nothing more will come (an Error costs its stack: not
    // made for the 'close' that follows every 'end')
    msg.once("close", () => msg.readableEnded || reject(aborted()));
  });
}

/** The body as a Web stream: one socket chunk per pull, so a slow reader pauses the upload. */
function webStream(msg: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  const settle = (fn: () => void) => {
    if (!open) return;
    open = false;
    fn();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      if (msg.destroyed && !msg.readableEnded) return c.error(msg.errored ?? aborted());
      msg.on("data", (chunk: Buffer) => {
        if (!open) return;
        c.enqueue(chunk);
        if ((c.desiredSize ?? 0) <= 0) msg.pause();
      });
      msg.once("end", () => settle(() => c.close()));
      msg.once("error", (err) => settle(() => c.error(err)));
      msg.once("close", () => settle(() => c.error(aborted())));
    },
    pull() {
      msg.resume();
    },
    cancel() {
      // Drain what is left rather than destroy: destroying the request closes the socket,
      // and the answer the handler is about to send (a 413) would never arrive.
      open = false;
      msg.removeAllListeners("data");
      msg.resume();
    },
  });
}

/**
 * A Request whose body, headers and signal are the node:http message's own, built on
 * demand. undici's Request on Node 20 costs ~30 µs for a POST given a stream body and a
 * signal to follow (a Web stream, a FinalizationRegistry entry, listeners); this one
 * costs ~6 µs, and text()/json() read the socket directly. What it is not: undici
 * internals (fetch(req), new Request(req)) see it as bodiless; clone() gives a full copy.
 */
class IncomingRequest extends Request {
  readonly #msg: IncomingMessage;
  readonly #headers: Headers;
  #ac: AbortController | null = null;
  #gone = false;
  #stream: ReadableStream<Uint8Array> | null = null;
  #used = false;

  constructor(url: string, msg: IncomingMessage, headers: Headers) {
    super(url, { method: msg.method });
    this.#msg = msg;
    this.#headers = headers;
  }

  static {
    // Over Request's own members, here rather than as class members: TypeScript declares
    // those as properties, and the subclass would not type-check.
    Object.defineProperties(IncomingRequest.prototype, {
      headers: {
        get(this: IncomingRequest) {
          return this.#headers;
        },
      },
      signal: {
        get(this: IncomingRequest) {
          return this.#signal();
        },
      },
      body: {
        get(this: IncomingRequest) {
          return this.#body();
        },
      },
      bodyUsed: {
        get(this: IncomingRequest) {
          return this.#used || (this.#stream?.locked ?? false);
        },
      },
      text: {
        async value(this: IncomingRequest) {
          return decoder.decode(await this.#bytes());
        },
      },
      json: {
        async value(this: IncomingRequest) {
          return JSON.parse(decoder.decode(await this.#bytes())) as unknown;
        },
      },
      arrayBuffer: {
        value(this: IncomingRequest) {
          return this.#arrayBuffer();
        },
      },
      bytes: {
        async value(this: IncomingRequest) {
          return new Uint8Array(await this.#arrayBuffer());
        },
      },
      blob: {
        async value(this: IncomingRequest) {
          return new Blob([await this.#arrayBuffer()], { type: this.#headers.get("content-type") ?? "" });
        },
      },
      formData: {
        async value(this: IncomingRequest) {
          const type = this.#headers.get("content-type") ?? "";
          return new Response(await this.#arrayBuffer(), { headers: { "content-type": type } }).formData();
        },
      },
      clone: {
        value(this: IncomingRequest) {
          return this.#clone();
        },
      },
    });
  }

  /** The client left before its answer was complete. */
  [GONE](): void {
    this.#gone = true;
    this.#ac?.abort();
  }

  #signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#gone) this.#ac.abort();
    }
    return this.#ac.signal;
  }

  #hasBody(): boolean {
    return this.method !== "GET" && this.method !== "HEAD";
  }

  #body(): ReadableStream<Uint8Array> | null {
    if (!this.#hasBody()) return null;
    if (!this.#stream) {
      if (this.#used) return null;
      this.#stream = webStream(this.#msg);
    }
    return this.#stream;
  }

  async #arrayBuffer(): Promise<ArrayBuffer> {
    const b = await this.#bytes();
    // a copy: a socket chunk may be a view into a larger shared buffer
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }

  async #bytes(): Promise<Uint8Array> {
    if (this.bodyUsed) throw new TypeError("Body is unusable: Body has already been read");
    this.#used = true;
    if (!this.#hasBody()) return new Uint8Array(0);
    if (this.#stream) return new Uint8Array(await new Response(this.#stream).arrayBuffer());
    return readAll(this.#msg);
  }

  #clone(): Request {
    if (this.bodyUsed) throw new TypeError("Request.clone: the body has already been read");
    const body = this.#body();
    let copy: ReadableStream<Uint8Array> | null = null;
    if (body) [this.#stream, copy] = body.tee();
    const init = { method: this.method, headers: this.#headers, body: copy, signal: this.#signal(), duplex: "half" };
    return new Request(this.url, init as RequestInit);
  }
}

/**
 * Host header values that cannot change the parsed URL's path: a raw value such as
 * "evil/admin?" would turn "http://" + host + "/v1/chat" into the path /admin.
 */
const HOST_RE = /^(?:[\w.~!$&'()*+,;=%-]+|\[[\w:.%]+\])(?::\d{1,5})?$/;

/** The absolute URL of a request, or null when it cannot be one of ours. */
function requestUrl(target: string, host: string | undefined, socket: Socket): string | null {
  if (target.startsWith("/")) {
    if (host) return HOST_RE.test(host) ? `http://${host}${target}` : null;
    // HTTP/1.0 without Host (node:http refuses that in 1.1): the address it connected to
    const local = socket.localAddress ?? "localhost";
    return `http://${local.includes(":") ? `[${local}]` : local}:${socket.localPort ?? 80}${target}`;
  }
  // absolute-form (RFC 9112 §3.2.2), as a client that takes us for a proxy sends it
  return /^https?:\/\//i.test(target) ? target : null;
}

/** The message's headers, repeated ones kept (appended), and its Host value. */
function copyHeaders(raw: string[], into: Headers): string | undefined {
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    into.append(name, value);
    if (host === undefined && name.length === 4 && name.toLowerCase() === "host") host = value;
  }
  return host;
}

function toRequest(msg: IncomingMessage): IncomingRequest | null {
  try {
    const headers = new Headers();
    const url = requestUrl(msg.url ?? "/", copyHeaders(msg.rawHeaders, headers), msg.socket);
    return url === null ? null : new IncomingRequest(url, msg, headers);
  } catch {
    return null; // a method or URL the Request constructor refuses (TRACE, a bad host)
  }
}

class NodeConnection implements Connection {
  readonly clientIp: string;
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
    // read now: a socket that is gone has no address any more
    this.clientIp = socket.remoteAddress ?? "";
  }

  keepOpen(): void {
    // node:http has no idle timer on a request (server.timeout 0), and its requestTimeout
    // ends once the request is in; this only undoes a timeout someone set on the socket.
    this.#socket.setTimeout(0);
  }
}

/** One request on its way: what the 'close' listener needs to stop an answer the client left. */
class InFlight {
  request: IncomingRequest | null = null;
  /** The answer is complete or cut by us: a close now is not the client leaving. */
  ended = false;
  gone = false;
  closed = false;
  errorSent = false;
  reader: Reader | null = null;
  /** Resolves a wait for 'drain'. */
  wake: (() => void) | null = null;
  readonly res: ServerResponse;
  readonly head: boolean;

  constructor(res: ServerResponse, head: boolean) {
    this.res = res;
    this.head = head;
  }
}

const LATER = Symbol("later");

/** p's outcome if it settles within this turn of the event loop, else LATER. */
function soon<T>(p: Promise<T>): Promise<T | typeof LATER> {
  return new Promise((resolve, reject) => {
    const timer = setImmediate(resolve, LATER);
    p.then(
      (v) => {
        clearImmediate(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearImmediate(timer);
        reject(err);
      },
    );
  });
}

function drained(x: InFlight): Promise<void> {
  return new Promise((resolve) => {
    x.wake = resolve;
    x.res.once("drain", resolve);
  });
}

/** Statuses whose answers have no body (RFC 9110 §6.4.1): no Content-Length either. */
function bodyless(status: number): boolean {
  return status === 204 || status === 304 || status < 200;
}

/** Status line and headers; `length` is the body's size when it is known whole. */
function writeHead(res: ServerResponse, response: Response, length: number | null): void {
  const flat: string[] = [];
  let sized = false;
  // undici's Headers yields each set-cookie on its own, the others combined
  for (const [name, value] of response.headers) {
    flat.push(name, value);
    if (name === "content-length") sized = true;
  }
  if (length !== null && !sized && !bodyless(response.status)) flat.push("content-length", String(length));
  if (response.statusText) res.writeHead(response.status, response.statusText, flat);
  else res.writeHead(response.status, flat);
}

/** Write an answer. A body that is whole at once goes in one write with its length. */
async function send(x: InFlight, response: Response): Promise<void> {
  const { res } = x;
  const body = response.body;
  if (x.gone || body === null || x.head) {
    if (body) body.cancel().catch(noop);
    if (x.gone) return;
    writeHead(res, response, x.head ? null : 0);
    x.ended = true;
    res.end();
    return;
  }
  const reader: Reader = body.getReader();
  x.reader = reader;
  const first = reader.read();
  const r1 = await soon(first);
  if (x.gone) return;
  if (r1 === LATER) {
    // a stream that has nothing yet (a model thinking): the status line goes now
    writeHead(res, response, null);
    res.flushHeaders();
    return pump(x, reader, first);
  }
  if (r1.done) return sendWhole(x, response, null);
  const second = reader.read();
  const r2 = await soon(second);
  if (x.gone) return;
  if (r2 !== LATER && r2.done) return sendWhole(x, response, r1.value);
  writeHead(res, response, null);
  if (!res.write(r1.value)) await drained(x);
  return pump(x, reader, second);
}

function sendWhole(x: InFlight, response: Response, chunk: Uint8Array | null): void {
  writeHead(x.res, response, chunk?.byteLength ?? 0);
  x.ended = true;
  if (chunk) x.res.end(chunk);
  else x.res.end();
}

/** Each chunk as it comes; a client that reads slowly slows the reads (await 'drain'). */
async function pump(x: InFlight, reader: Reader, next: Promise<ReadResult>): Promise<void> {
  const { res } = x;
  for (;;) {
    const r = await next;
    if (x.gone) return;
    if (r.done) {
      x.ended = true;
      res.end();
      return;
    }
    if (r.value.byteLength && !res.write(r.value)) await drained(x);
    if (x.gone) return;
    next = reader.read();
  }
}

export function startServer(opts: ServerOptions): ServerHandle {
  const { handler } = opts;
  let inFlight = 0;
  let stopping = false;
  let closing: Promise<void> | null = null;
  /** node:http has seen every connection close (server.close's callback). */
  let connectionsClosed = false;
  let stopped = noop;

  const server: Server = createServer(
    {
      // Node advertises "Keep-Alive: timeout=N" and closes an idle connection ~1 s later.
      keepAliveTimeout: opts.keepAliveSeconds * 1000,
      // Node's defaults, written out: how long a client may take to send its headers and
      // its whole request (slow-loris). Neither applies once the request is in, so an
      // answer that streams, or stays silent, for many minutes is never cut by Node.
      headersTimeout: 60_000,
      requestTimeout: 300_000,
    },
    (msg, res) => onRequest(msg, res),
  );
  // maxHeaderSize (16 KiB) bounds the header section and is refused with a 431; a count
  // limit would only drop the headers past it, silently.
  server.maxHeadersCount = 0;

  const errorResponse = (err: unknown): Response => {
    try {
      return opts.onError(err);
    } catch {
      return new Response("Internal Server Error", { status: 500 });
    }
  };

  const closed = (x: InFlight) => {
    if (x.closed) return;
    x.closed = true;
    inFlight--;
    if (!x.ended) {
      // the client left before the answer was complete: stop the work behind it
      x.gone = true;
      x.request?.[GONE]();
      x.reader?.cancel().catch(noop);
      x.wake?.();
    }
    if (stopping) closeDrained();
  };

  /** While stopping: close every connection that has nothing in flight any more. */
  const closeDrained = () => {
    if (inFlight === 0) server.closeAllConnections();
    else server.closeIdleConnections();
    // node:http reports its last connection closed before the responses on it hear of it
    if (inFlight === 0 && connectionsClosed) stopped();
  };

  const failed = (x: InFlight, err: unknown) => {
    if (x.gone) return;
    if (!x.res.headersSent && !x.errorSent) {
      x.errorSent = true;
      x.reader?.cancel().catch(noop);
      void send(x, errorResponse(err)).catch(() => failed(x, err));
      return;
    }
    // Mid-answer: the status line is out. Cut the connection so that the client sees a
    // truncated answer (no final chunk), as Bun does, not a complete-looking one.
    x.ended = true;
    x.reader?.cancel().catch(noop);
    x.res.destroy();
  };

  const answer = (x: InFlight, response: Response) => {
    send(x, response).catch((err: unknown) => failed(x, err));
  };

  function onRequest(msg: IncomingMessage, res: ServerResponse): void {
    inFlight++;
    const x = new InFlight(res, msg.method === "HEAD");
    res.once("close", () => closed(x));
    // A response queued behind another on a pipelined connection has no socket yet: if
    // the client goes, only its request hears of it.
    if (!res.socket) msg.once("close", () => msg.errored && closed(x));
    // "Connection: close", and the socket closes after this answer
    if (stopping) res.shouldKeepAlive = false;
    const request = toRequest(msg);
    if (!request) {
      x.ended = true;
      res.writeHead(400, { "content-type": "text/plain", connection: "close" }).end("Bad Request");
      return;
    }
    x.request = request;
    let out: Response | Promise<Response>;
    try {
      out = handler(request, new NodeConnection(msg.socket));
    } catch (err) {
      out = errorResponse(err);
    }
    if (typeof (out as Promise<Response>).then === "function") {
      (out as Promise<Response>).then(
        (r) => answer(x, r),
        (err: unknown) => answer(x, errorResponse(err)),
      );
    } else {
      answer(x, out as Response);
    }
  }

  listen(server, opts.host, opts.port);
  // Past listening, a server error is an accept() failure (EMFILE): log it, keep serving.
  server.on("error", (err) => void errorResponse(err));
  // kept: address() is null again once the server has closed
  let port = (server.address() as AddressInfo | null)?.port ?? opts.port;
  server.once("listening", () => (port = (server.address() as AddressInfo).port));

  return {
    host: opts.host,
    get port() {
      return port;
    },
    stop(force) {
      stopping = true;
      closing ??= new Promise((resolve) => {
        stopped = resolve;
        server.close(() => {
          connectionsClosed = true;
          if (inFlight === 0) resolve();
        });
      });
      if (force) server.closeAllConnections();
      else closeDrained();
      return closing;
    },
    pending: () => inFlight,
  };
}

// ---- listening ----

interface TcpHandle {
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  listen(backlog: number): number;
  close(): void;
}
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number };
}

/** Node's own backlog (the kernel rounds 511 up to 512). */
const BACKLOG = 511;

/**
 * Listen before returning, as Bun.serve does: the caller reads the port at once (port 0)
 * and catches EADDRINUSE around startServer. node:http's listen(port, host) binds a tick
 * later (a DNS lookup even for an IP), so for an IP address the socket is made, bound and
 * listening here, through the TCP handle node:net itself uses (process.binding, on
 * Node's allow-list), and handed to listen(). A hostname has to be looked up, and a
 * Node without that binding has no other way: those listen a tick later, and fail loudly.
 */
function listen(server: Server, host: string, port: number): void {
  const family = isIP(host);
  const wrap = family === 0 ? null : tcpWrap();
  if (!wrap) return listenLater(server, host, port);
  const handle = new wrap.TCP(wrap.constants.SERVER);
  let code = family === 6 ? handle.bind6(host, port, 0) : handle.bind(host, port);
  if (code === 0) code = handle.listen(BACKLOG);
  if (code !== 0) {
    handle.close();
    throw listenError(code, host, port);
  }
  server.listen(handle);
}

function tcpWrap(): TcpWrap | null {
  try {
    return (process as unknown as { binding(name: "tcp_wrap"): TcpWrap }).binding("tcp_wrap");
  } catch {
    return null;
  }
}

/** Listen a tick later; failing to is fatal (an uncaught 'error': the daemon cannot serve). */
function listenLater(server: Server, host: string, port: number): void {
  const fail = (err: Error) => {
    throw err;
  };
  server.once("error", fail);
  server.once("listening", () => server.off("error", fail));
  server.listen(port, host);
}

/** The error node:net would give: "listen EADDRINUSE: address already in use 127.0.0.1:80". */
function listenError(errno: number, host: string, port: number): Error {
  const [code, text] = getSystemErrorMap().get(errno) ?? [`E${-errno}`, "unknown error"];
  const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return Object.assign(new Error(`listen ${code}: ${text} ${where}`), { code, errno, syscall: "listen", address: host, port });
}
