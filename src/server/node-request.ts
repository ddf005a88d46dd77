// The Request side of the HTTP server edge on Node (node-server.ts): an IncomingMessage
// as the Web-standard Request the gateway's handler takes, built lazily (headers from
// rawHeaders, the body read straight off the socket, the signal made on first use).

import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { inspect, type InspectOptions } from "node:util";

export type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };
/** The part of a body's reader used here (Bun's and the DOM's types differ elsewhere). */
export interface Reader {
  read(): Promise<ReadResult>;
  cancel(reason?: unknown): Promise<void>;
}

export const noop = () => {};
const decoder = new TextDecoder();
/** Marks the internal "the client left" call, out of the Request's public surface. */
export const GONE = Symbol("clientGone");

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

/** What `new Request(url, { method })` answers for the members a server request has no say in. */
const REQUEST_DEFAULTS: Record<string, unknown> = {
  destination: "",
  referrer: "about:client",
  referrerPolicy: "",
  mode: "cors",
  credentials: "same-origin",
  cache: "default",
  redirect: "follow",
  integrity: "",
  keepalive: false,
  isReloadNavigation: false,
  isHistoryNavigation: false,
  duplex: "half",
};

/**
 * A Request whose body, headers and signal are the node:http message's own, built on
 * demand. It is a Request (instanceof, every member) without undici's constructor: on
 * Node 20 that costs ~12 µs for a mere `new Request(url, { method })` (a URL record, a
 * headers list, an AbortSignal no one may ask for), and ~30 µs for a POST given a stream
 * body and a signal to follow (a Web stream, a FinalizationRegistry entry, listeners);
 * this one costs ~3 µs, and text()/json() read the socket directly. What it is not:
 * undici internals (fetch(req), new Request(req)) cannot read it; clone() gives a full copy.
 */
export interface IncomingRequest extends Request {}
export class IncomingRequest {
  readonly #msg: IncomingMessage;
  readonly #method: string;
  readonly #url: string;
  readonly #headers: Headers;
  #ac: AbortController | null = null;
  #gone = false;
  #stream: ReadableStream<Uint8Array> | null = null;
  #used = false;

  /** `url` is serialized already (URL.href); `method` one the Request constructor takes as is. */
  constructor(url: string, method: string, msg: IncomingMessage, headers: Headers) {
    this.#msg = msg;
    this.#method = method;
    this.#url = url;
    this.#headers = headers;
  }

  static {
    Object.setPrototypeOf(IncomingRequest.prototype, Request.prototype);
    const own: PropertyDescriptorMap = {};
    for (const [name, value] of Object.entries(REQUEST_DEFAULTS)) own[name] = { get: () => value };
    // Request's own members, here rather than as class members: TypeScript declares those
    // as properties. Every one is redefined: Request's would look for undici's state.
    Object.defineProperties(IncomingRequest.prototype, {
      ...own,
      method: {
        get(this: IncomingRequest) {
          return this.#method;
        },
      },
      url: {
        get(this: IncomingRequest) {
          return this.#url;
        },
      },
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
      [inspect.custom]: {
        value(this: IncomingRequest, depth: number, options: InspectOptions) {
          const fields = { method: this.#method, url: this.#url, headers: this.#headers, bodyUsed: this.bodyUsed, signal: this.#ac?.signal };
          return `Request ${inspect(fields, { ...options, depth: options.depth === null ? null : depth })}`;
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

/** Methods the Request constructor refuses (Fetch standard: forbidden methods). */
const FORBIDDEN_METHOD = /^(?:connect|trace|track)$/i;
/** Methods it normalizes to upper case; node:http passes on any other as sent. */
const NORMALIZED_METHOD = /^(?:delete|get|head|options|post|put)$/i;

/** The request as a Request, or null where `new Request(url, { method })` would throw. */
export function toRequest(msg: IncomingMessage): IncomingRequest | null {
  let method = msg.method ?? "GET";
  if (FORBIDDEN_METHOD.test(method)) return null; // TRACE: refused, as by the Request constructor
  if (NORMALIZED_METHOD.test(method)) method = method.toUpperCase();
  try {
    const headers = new Headers();
    const raw = requestUrl(msg.url ?? "/", copyHeaders(msg.rawHeaders, headers), msg.socket);
    if (raw === null) return null;
    // the URL as the Request constructor keeps it: parsed and serialized (dot segments,
    // case, default ports), and refused when it carries credentials or cannot be parsed
    const url = new URL(raw);
    if (url.username || url.password) return null;
    return new IncomingRequest(url.href, method, msg, headers);
  } catch {
    return null; // a URL or header the Request constructor refuses (a bad host)
  }
}
