// The HTTP server edge on Node (dist/llmproxy.mjs): node:http in front of the same
// Web-standard handler that bun-server.ts gives to Bun.serve. Everything Node-specific
// stays in this file and node-request.ts (the IncomingMessage as a Request): a Response
// into bytes on the socket with backpressure, the client's departure into req.signal
// and a cancelled body, and draining.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Connection, ServerHandle, ServerOptions } from "../edges/types.ts";
import { wholeBytes } from "./node-response.ts";
import { takeBodySource } from "./stream-body-node.ts";
import type { BodySource } from "../edges/types.ts";
import { errorBody } from "../errors.ts";
import { GONE, noop, toRequest, type IncomingRequest, type Reader, type ReadResult } from "./node-request.ts";

/**
 * A request that cannot be a Request: a method the Fetch standard forbids (CONNECT,
 * TRACE, TRACK), a Host header that would change the path ("evil/admin?"), a target that
 * does not parse. Refused before routing, in the gateway's error shape.
 */
const UNREADABLE = errorBody(
  "invalid_request",
  "The request cannot be read: its method (CONNECT, TRACE and TRACK are refused), Host header or target is not valid.",
  "invalid_request_error",
);

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
  /** The gateway's own streamed answer, running straight into the socket. */
  source: BodySource | null = null;
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
  // an answer whole in memory: its bytes, without making and reading its body stream
  const whole = x.gone || x.head ? null : wholeBytes(response);
  if (whole !== null) return sendWhole(x, response, whole.byteLength ? whole : null);
  const body = response.body;
  if (x.gone || body === null || x.head) {
    if (body) body.cancel().catch(noop);
    if (x.gone) return;
    writeHead(res, response, x.head ? null : 0);
    x.ended = true;
    res.end();
    return;
  }
  const source = takeBodySource(body);
  if (source) return pumpSource(x, response, source);
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

/**
 * A streamed answer of the gateway's own (edges.streamBody): the status line now (the
 * backend may think a while before its first token), then each chunk as the source
 * writes it; a client that reads slowly makes its writes wait for 'drain'.
 */
async function pumpSource(x: InFlight, response: Response, source: BodySource): Promise<void> {
  const { res } = x;
  x.source = source;
  writeHead(res, response, null);
  res.flushHeaders();
  await source.pump({
    write(chunk) {
      if (x.gone || chunk.byteLength === 0) return;
      if (!res.write(chunk)) return drained(x);
    },
  });
  if (x.gone) return;
  x.ended = true;
  res.end();
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

export async function startServer(opts: ServerOptions): Promise<ServerHandle> {
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
      x.source?.cancel();
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
      res.writeHead(400, { "content-type": "application/json", connection: "close" }).end(UNREADABLE);
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

  await listen(server, opts.host, opts.port);
  // Past listening, a server error is an accept() failure (EMFILE): log it, keep serving.
  server.on("error", (err) => void errorResponse(err));
  const port = (server.address() as AddressInfo).port;

  return {
    host: opts.host,
    port,
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

/** Resolves once listening; rejects with node:net's listen error (code EADDRINUSE, ...). */
function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve();
    });
  });
}
