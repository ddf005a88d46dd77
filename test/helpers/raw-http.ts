// HTTP/1.1 by hand over a TCP socket, for the checks a real HTTP client hides: headers
// it would add, drop or rewrite itself (Connection, Keep-Alive, TE, Upgrade), and what
// the server really put on the wire (Content-Encoding, Content-Length, chunked framing).

import { connect } from "node:net";

export interface RawRequest {
  method?: string;
  /** Path and query, e.g. /v1/chat/completions?x=1 */
  path: string;
  /** Sent exactly as given, in this order; Host and Content-Length are added when absent. */
  headers?: [string, string][];
  body?: string;
  /**
   * Called when the first bytes of the answer arrived: the socket stops reading (the
   * server meets real TCP backpressure) until the returned promise resolves.
   */
  pauseAtFirstData?: () => Promise<void>;
}

export interface RawResponse {
  status: number;
  /** Header lines as received (names lowercased), in order. */
  headerList: [string, string][];
  /** The value of a header, comma-joined when repeated; null when absent. */
  header(name: string): string | null;
  /** The body as framed by the server (de-chunked), never decoded. */
  body: Buffer;
  /** Whether the body came chunked. */
  chunked: boolean;
}

/** One request on a fresh connection (Connection: close unless the caller set Connection). */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const u = new URL(baseUrl);
  const headers = [...(req.headers ?? [])];
  const has = (n: string) => headers.some(([k]) => k.toLowerCase() === n);
  const body = Buffer.from(req.body ?? "");
  if (!has("host")) headers.unshift(["Host", u.host]);
  if (!has("connection")) headers.push(["Connection", "close"]);
  if (!has("content-length") && !has("transfer-encoding")) headers.push(["Content-Length", String(body.length)]);
  const head = `${req.method ?? "POST"} ${req.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;

  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    let settled = false;
    const tryParse = (final: boolean) => {
      if (settled) return;
      const res = parseResponse(Buffer.concat(parts), final);
      if (!res) {
        if (final) {
          settled = true;
          reject(new Error(`incomplete HTTP response: ${Buffer.concat(parts).toString("latin1").slice(0, 500)}`));
        }
        return;
      }
      settled = true;
      sock.destroy();
      resolve(res);
    };
    let paused = false;
    // Parse the whole response only once it may be complete: a long stream arrives in
    // hundreds of pieces, and re-reading all of it at each piece would cost O(n²).
    let total = 0;
    let tail = Buffer.alloc(0);
    let frame: { bodyAt: number; length: number | null; chunked: boolean } | null = null;
    const mayBeComplete = (): boolean => {
      if (!frame) {
        const all = Buffer.concat(parts);
        const end = all.indexOf("\r\n\r\n");
        if (end < 0) return false;
        const head = all.subarray(0, end).toString("latin1").toLowerCase();
        const len = /\r\ncontent-length:\s*(\d+)/.exec(head);
        frame = { bodyAt: end + 4, length: len ? Number(len[1]) : null, chunked: /\r\ntransfer-encoding:[^\r]*chunked/.test(head) };
      }
      if (frame.chunked) return tail.toString("latin1") === "0\r\n\r\n";
      return frame.length !== null && total >= frame.bodyAt + frame.length;
    };
    sock.on("data", (d: Buffer) => {
      parts.push(d);
      total += d.length;
      tail = Buffer.concat([tail, d]).subarray(-5);
      if (req.pauseAtFirstData && !paused) {
        paused = true;
        sock.pause();
        void req.pauseAtFirstData().then(() => sock.resume(), reject);
        return;
      }
      if (mayBeComplete()) tryParse(false);
    });
    sock.on("end", () => tryParse(true));
    sock.on("close", () => tryParse(true));
    sock.on("error", (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    sock.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
  });
}

/** A complete response from the bytes so far, or null when more must come. */
function parseResponse(buf: Buffer, final: boolean): RawResponse | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headerList: [string, string][] = lines.slice(1).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  const header = (name: string): string | null => {
    const vs = headerList.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
    return vs.length ? vs.join(", ") : null;
  };
  const rest = buf.subarray(end + 4);
  const chunked = (header("transfer-encoding") ?? "").toLowerCase().includes("chunked");
  let body: Buffer;
  if (chunked) {
    const out: Buffer[] = [];
    let i = 0;
    for (;;) {
      const nl = rest.indexOf("\r\n", i);
      if (nl < 0) return null;
      const size = parseInt(rest.subarray(i, nl).toString("latin1"), 16);
      if (size === 0) break;
      if (rest.length < nl + 2 + size + 2) return null;
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      i = nl + 2 + size + 2;
    }
    body = Buffer.concat(out);
  } else if (header("content-length") !== null) {
    const len = Number(header("content-length"));
    if (rest.length < len) return null;
    body = rest.subarray(0, len);
  } else {
    if (!final) return null;
    body = rest;
  }
  return { status, headerList, header, body: Buffer.from(body), chunked };
}
