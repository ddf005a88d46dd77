// Header rules at the two crossings. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one
// connection and are never forwarded; the client's credentials never reach a backend;
// the backend's encoding headers are dropped when the runtime already decoded the body.

import type { Backend } from "../runtime/backend.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Client headers that must not reach a backend. */
const CLIENT_ONLY = [
  ...HOP_BY_HOP,
  "host",
  "content-length",
  "expect",
  // gateway credentials, in every form clients send them
  "authorization",
  "x-api-key",
  "api-key",
  "cookie",
  // the runtime negotiates (and decodes) compression with the backend itself
  "accept-encoding",
];

function dropConnectionListed(h: Headers): void {
  const listed = h.get("connection");
  if (!listed) return;
  for (const name of listed.split(",")) {
    const n = name.trim().toLowerCase();
    if (n) h.delete(n);
  }
}

export interface UpstreamHeaderInfo {
  requestId: string;
  clientIp: string;
}

/**
 * Headers as a plain object. Bun's Headers.toJSON() gives it in one native call;
 * iterating Headers (what other runtimes offer) costs an allocation per entry.
 * (Repeated set-cookie headers would merge, but a client request carries none, and
 * cookies are not forwarded anyway.)
 */
const headersObject: (h: Headers) => Record<string, string> =
  typeof (Headers.prototype as { toJSON?: unknown }).toJSON === "function"
    ? (h) => (h as Headers & { toJSON(): Record<string, string> }).toJSON()
    : (h) => Object.fromEntries(h);

/** The request headers for the backend (a plain object: cheaper than Headers edits). */
export function upstreamRequestHeaders(client: Headers, backend: Backend, info: UpstreamHeaderInfo): Record<string, string> {
  const h = headersObject(client);
  for (const name of CLIENT_ONLY) if (name in h) delete h[name];
  const listed = client.get("connection");
  if (listed) for (const name of listed.split(",")) delete h[name.trim().toLowerCase()];
  h["content-type"] = "application/json";
  h["x-request-id"] = info.requestId;
  if (info.clientIp) {
    const prior = h["x-forwarded-for"];
    h["x-forwarded-for"] = prior ? `${prior}, ${info.clientIp}` : info.clientIp;
  }
  if (backend.defaultHeaders) for (const name in backend.defaultHeaders) h[name] ??= backend.defaultHeaders[name]!;
  // the backend's own credentials and headers, computed once per config
  return Object.assign(h, backend.headers);
}

/**
 * Headers for the client from the backend's answer. content-length is always left to
 * the server (the body may be re-framed, edited by the usage tap, or decoded).
 */
export function clientResponseHeaders(upstream: Headers, requestId: string, backend: Backend, nameIt: boolean): Headers {
  const h = new Headers(upstream);
  dropConnectionListed(h);
  for (const name of HOP_BY_HOP) h.delete(name);
  h.delete("content-length");
  // Bun's fetch has decoded the body already; passing the header on would make the
  // client decode plain bytes (PLATFORM-NOTES.md). The in-process mock is not fetched.
  if (backend.network) h.delete("content-encoding");
  h.set("x-request-id", requestId);
  if (nameIt) h.set("x-llmproxy-backend", backend.name);
  return h;
}
