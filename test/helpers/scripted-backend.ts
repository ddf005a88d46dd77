// A backend that answers with bytes a test writes by hand, over a raw TCP socket: for
// what the mock cannot do because Bun.serve would not let it (any header, any body
// shape, a body that stops in the middle of its Content-Length). Each request is
// read whole, then `answer` decides the bytes and what happens after them.

import { createServer, type Socket } from "node:net";

export interface ScriptedRequest {
  method: string;
  /** Path and query. */
  target: string;
  /** Header names lowercased. */
  headers: Map<string, string>;
  body: string;
}

export interface ScriptedAnswer {
  /** The whole response as sent: status line, headers, blank line, body (all of it or part). */
  bytes: string | Buffer;
  /** After the bytes: close the connection, or keep it open and silent until the client leaves. */
  then: "close" | "stall";
}

export interface ScriptedBackend {
  url: string;
  /** Resolves when the client (the proxy) closes the connection of the next stalled answer. */
  nextClientClose(): Promise<ScriptedRequest>;
  stop(): Promise<void>;
}

/** An HTTP/1.1 response: status, headers in order, body; Content-Length added unless `length` says otherwise. */
export function httpResponse(status: number, headers: [string, string][], body: string, length: number | null = Buffer.byteLength(body)): string {
  const lines = [`HTTP/1.1 ${status} X`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (length !== null) lines.push(`Content-Length: ${length}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

export async function startScriptedBackend(answer: (req: ScriptedRequest) => ScriptedAnswer): Promise<ScriptedBackend> {
  const sockets = new Set<Socket>();
  const closeWaiters: ((r: ScriptedRequest) => void)[] = [];
  const server = createServer((sock) => {
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    let req: ScriptedRequest | null = null;
    let answered = false;
    let stalled = false;
    sock.on("data", (d: Buffer) => {
      if (answered) return;
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const [method, target] = lines[0]!.split(" ");
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      const len = Number(headers.get("content-length") ?? 0);
      if (buf.length < end + 4 + len) return;
      req = { method: method!, target: target!, headers, body: buf.subarray(end + 4, end + 4 + len).toString("utf8") };
      answered = true;
      const a = answer(req);
      sock.write(a.bytes);
      if (a.then === "close") sock.end();
      else stalled = true;
    });
    sock.on("close", () => {
      sockets.delete(sock);
      if (req && stalled) closeWaiters.shift()?.(req);
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    nextClientClose: () => new Promise((r) => closeWaiters.push(r)),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
