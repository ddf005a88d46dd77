// A lean HTTP/1.1 client for load generation, on raw keep-alive sockets (Bun.connect
// under Bun, node:net under Node: src/bench/tools.ts). Bun's fetch costs 20-30 µs of CPU
// per request; on a 2-core machine a load generator that heavy steals the CPU the proxy
// under test needs and inflates what is measured. This client sends prebuilt request
// bytes and parses just enough of the answer (status, Content-Length or chunked
// framing) to know when it ended, like wrk does.

import type { BenchSocket } from "../edges/types.ts";
import { tools } from "./tools.ts";

export interface RawResponse {
  status: number;
  /** ms from sending the request to the first body byte (headers excluded). */
  firstByteMs: number;
  /** ms from sending to the end of the answer. */
  totalMs: number;
  /** Longest pause between two arrivals of body data, ms. */
  maxGapMs: number;
  bodyBytes: number;
}

const CRLF2 = Buffer.from("\r\n\r\n");
const FLUSH_COMMENT = Buffer.from("3\r\n:\n\n\r\n");

interface Pending {
  start: number;
  resolve(r: RawResponse): void;
  reject(e: Error): void;
}

/** One keep-alive connection; requests on it go one at a time. */
export class RawConnection {
  private socket: BenchSocket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  // parse state of the current answer
  private status = 0;
  private headerDone = false;
  private contentLength = -1;
  private chunked = false;
  private bodyBytes = 0;
  private firstByte = -1;
  private lastData = 0;
  private maxGap = 0;

  private constructor() {}

  static async open(host: string, port: number, tls = false): Promise<RawConnection> {
    const c = new RawConnection();
    c.socket = await tools.connect({ host, port, tls }, { data: (chunk) => c.onData(chunk), closed: (err) => c.fail(err) });
    return c;
  }

  /** Send prebuilt request bytes; resolves when the whole answer arrived. */
  request(bytes: Uint8Array): Promise<RawResponse> {
    if (this.pending) return Promise.reject(new Error("request already in flight on this connection"));
    if (!this.socket) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      this.pending = { start: performance.now(), resolve, reject };
      this.status = 0;
      this.headerDone = false;
      this.contentLength = -1;
      this.chunked = false;
      this.bodyBytes = 0;
      this.firstByte = -1;
      this.maxGap = 0;
      this.socket!.write(bytes);
    });
  }

  close(): void {
    this.socket?.end();
    this.socket = null;
  }

  /** Cut the connection now; a request in flight fails (a phase past its time bound). */
  abort(): void {
    const s = this.socket;
    this.fail(new Error("cut: the phase ran past its time bound"));
    s?.terminate();
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = null;
    this.socket = null;
    p?.reject(e);
  }

  private onData(data: Buffer): void {
    const now = performance.now();
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    if (!this.headerDone) {
      const end = this.buf.indexOf(CRLF2);
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      this.status = Number(head.slice(9, 12));
      const lower = head.toLowerCase();
      const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      this.contentLength = cl ? Number(cl[1]) : -1;
      this.chunked = lower.includes("\r\ntransfer-encoding: chunked");
      this.headerDone = true;
      this.buf = this.buf.subarray(end + 4);
      this.lastData = now;
    }
    if (this.buf.length > 0) {
      // the SSE comment the gateway sends to flush headers early is not a first token
      if (this.firstByte < 0 && this.chunked && this.buf.length >= FLUSH_COMMENT.length && this.buf.subarray(0, FLUSH_COMMENT.length).equals(FLUSH_COMMENT)) {
        // counted as body bytes below, but not as the first byte
      } else if (this.firstByte < 0) this.firstByte = now;
      else this.maxGap = Math.max(this.maxGap, now - this.lastData);
      this.lastData = now;
    }
    if (this.chunked) this.consumeChunks(now);
    else if (this.contentLength >= 0 && this.buf.length >= this.contentLength) {
      this.bodyBytes = this.contentLength;
      this.buf = this.buf.subarray(this.contentLength);
      this.done(now);
    }
  }

  /** Walk complete chunks; the zero-size chunk ends the answer. */
  private consumeChunks(now: number): void {
    for (;;) {
      const eol = this.buf.indexOf("\r\n");
      if (eol < 0) return;
      const size = parseInt(this.buf.subarray(0, eol).toString("latin1"), 16);
      if (size === 0) {
        if (this.buf.length < eol + 4) return; // the final CRLF
        this.buf = this.buf.subarray(eol + 4);
        this.done(now);
        return;
      }
      if (this.buf.length < eol + 2 + size + 2) return;
      this.bodyBytes += size;
      this.buf = this.buf.subarray(eol + 2 + size + 2);
    }
  }

  private done(now: number): void {
    const p = this.pending!;
    this.pending = null;
    p.resolve({
      status: this.status,
      firstByteMs: (this.firstByte < 0 ? now : this.firstByte) - p.start,
      totalMs: now - p.start,
      maxGapMs: this.maxGap,
      bodyBytes: this.bodyBytes,
    });
  }
}

/** The bytes of one POST with a JSON body. */
export function postBytes(url: string, path: string, body: string, headers: Record<string, string> = {}): Uint8Array {
  const u = new URL(url);
  let head = `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return Buffer.from(head + "\r\n" + body);
}

export function hostPort(url: string): { host: string; port: number; tls: boolean } {
  const u = new URL(url);
  const tls = u.protocol === "https:";
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || (tls ? 443 : 80)), tls };
}
