// The Response side of the HTTP server edge on Node (node-server.ts), and the base of
// the Responses the Node edges make (this file's whole answers, upstream-node.ts's
// backend answers). undici's Response on Node 20 costs ~1.5 µs to construct even
// without a body (WebIDL conversions of its init, a headers list), and turns any body
// into a Web stream at construction (~12 µs), which the server would then read back
// through a reader, a promise per chunk. A whole answer here is kept as its bytes, and
// the server writes them in one go.

import { inspect, type InspectOptions } from "node:util";
import type { WholeBody } from "../edges/types.ts";
import { NULL_BODY_STATUSES } from "./null-body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A Response (instanceof, every member) without undici's constructor: status and
 * headers here, the body members in the subclass. What it is not: undici internals
 * (fetch(res), new Response(res.body ...) aside) cannot read it.
 */
export interface BareResponse extends Response {}
export abstract class BareResponse {
  readonly #status: number;
  readonly #statusText: string;
  readonly #headers: Headers;

  /** `status` in 200..599; `statusText` a valid reason phrase (or ""): the caller checked. */
  constructor(status: number, statusText: string, headers: Headers) {
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = headers;
  }

  static {
    Object.setPrototypeOf(BareResponse.prototype, Response.prototype);
    // Response's own members, here rather than as class members: TypeScript declares
    // those as properties. Each one is redefined (here or in the subclass): Response's
    // would look for undici's state.
    Object.defineProperties(BareResponse.prototype, {
      type: { get: () => "default" },
      url: { get: () => "" },
      redirected: { get: () => false },
      status: {
        get(this: BareResponse) {
          return this.#status;
        },
      },
      ok: {
        get(this: BareResponse) {
          return this.#status >= 200 && this.#status <= 299;
        },
      },
      statusText: {
        get(this: BareResponse) {
          return this.#statusText;
        },
      },
      headers: {
        get(this: BareResponse) {
          return this.#headers;
        },
      },
      [inspect.custom]: {
        value(this: BareResponse, depth: number, options: InspectOptions) {
          const fields = { status: this.#status, statusText: this.#statusText, headers: this.#headers, bodyUsed: this.bodyUsed, ok: this.ok };
          return `Response ${inspect(fields, { ...options, depth: options.depth === null ? null : depth })}`;
        },
      },
    });
  }
}

/**
 * A Response over bytes. Its body behaves as a plain Response's (the stream is made
 * when `body` is first read); node-server.ts takes the bytes directly while nobody has
 * touched the body.
 */
class WholeResponse extends BareResponse {
  readonly #bytes: Uint8Array;
  #stream: ReadableStream<Uint8Array> | null = null;
  #used = false;

  constructor(bytes: Uint8Array, status: number, headers: Headers) {
    super(status, "", headers);
    this.#bytes = bytes;
  }

  static {
    Object.defineProperties(WholeResponse.prototype, {
      body: {
        get(this: WholeResponse) {
          return this.#body();
        },
      },
      bodyUsed: {
        get(this: WholeResponse) {
          return this.#used || (this.#stream?.locked ?? false);
        },
      },
      text: {
        async value(this: WholeResponse) {
          return decoder.decode(this.#take());
        },
      },
      json: {
        async value(this: WholeResponse) {
          return JSON.parse(decoder.decode(this.#take())) as unknown;
        },
      },
      arrayBuffer: {
        async value(this: WholeResponse) {
          return copy(this.#take());
        },
      },
      bytes: {
        async value(this: WholeResponse) {
          return new Uint8Array(copy(this.#take()));
        },
      },
      blob: {
        async value(this: WholeResponse) {
          return new Blob([copy(this.#take())], { type: this.headers.get("content-type") ?? "" });
        },
      },
      formData: {
        async value(this: WholeResponse) {
          return new Response(copy(this.#take()), { headers: this.headers }).formData();
        },
      },
      clone: {
        value(this: WholeResponse) {
          if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.");
          return new Response(copy(this.#bytes), { status: this.status, headers: this.headers });
        },
      },
    });
  }

  /** The bytes for the server, when nobody has read or started reading the body. */
  untouched(): Uint8Array | null {
    return this.#used || this.#stream !== null ? null : this.#bytes;
  }

  #body(): ReadableStream<Uint8Array> {
    if (!this.#stream) {
      const bytes = this.#used ? null : this.#bytes;
      this.#stream = new ReadableStream<Uint8Array>({
        start(c) {
          if (bytes?.byteLength) c.enqueue(bytes);
          c.close();
        },
      });
      // read whole already: a stream that is used up, as undici's would be
      if (this.#used) this.#stream.getReader();
    }
    return this.#stream;
  }

  #take(): Uint8Array {
    if (this.bodyUsed) throw new TypeError("Body is unusable: Body has already been read");
    this.#used = true;
    // a stream made but not read yet: it is used up now
    this.#stream?.getReader();
    return this.#bytes;
  }
}

function copy(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Edges.wholeResponse on Node. */
export function wholeResponse(body: WholeBody, status: number, headers: Headers): Response {
  // the Response constructor's errors, from the Response constructor
  if (NULL_BODY_STATUSES.has(status) || !Number.isInteger(status) || status < 200 || status > 599) return new Response(body, { status, headers });
  let bytes: Uint8Array;
  if (typeof body === "string") {
    bytes = encoder.encode(body);
    // as the Response constructor does for a string body
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
  } else bytes = body instanceof Uint8Array ? body : new Uint8Array(body);
  return new WholeResponse(bytes, status, headers);
}

/** A whole answer's bytes, for the server to write at once; null when it must read the body. */
export function wholeBytes(response: Response): Uint8Array | null {
  return response instanceof WholeResponse ? response.untouched() : null;
}
