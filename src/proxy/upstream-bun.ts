// The upstream client edge under Bun: Bun's fetch (upstream-node.ts is undici under
// Node; src/edges picks one). Everything else hands it a URL, headers, a body and an
// AbortSignal, and gets a Web Response back.
//
// Bun's fetch specifics handled here:
//  - `timeout: false`: fetch otherwise aborts after 300 s without bytes, under our own
//    first-byte/idle/total timeouts (a long prefill would die at 5 min whatever the config).
//  - it decompresses gzip/br/deflate bodies but keeps content-encoding/content-length of
//    the compressed answer (PLATFORM-NOTES.md): responseHeaders() drops both when set.
//  - it has no connect timeout (oven-sh/bun#33338): probeConnect() lets the proxy tell
//    "cannot connect" from "connected, backend slow" when the connect deadline passes.
//  - at most 256 fetches in flight unless BUN_CONFIG_MAX_HTTP_REQUESTS is set at start
//    (src/runtime/start-env-bun.ts).

import type { ConnectProbe, FetchFn } from "../edges/types.ts";
import { connectTarget } from "./connect-target.ts";

export const upstreamFetch: FetchFn = (url, headers, body, signal) =>
  fetch(url, { method: "POST", headers, body, signal, timeout: false, redirect: "manual" } as RequestInit);

/** Try a TCP connection to the backend's host:port within `timeoutMs`. */
export function probeConnect(url: string, timeoutMs: number): Promise<ConnectProbe> {
  const target = connectTarget(url);
  if (!target) return Promise.resolve("refused");
  return new Promise<ConnectProbe>((resolve) => {
    let settled = false;
    const done = (r: ConnectProbe, sock?: { end(): void }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock?.end();
      resolve(r);
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    Bun.connect({
      hostname: target.host,
      port: target.port,
      socket: {
        open: (s) => done("ok", s),
        data: () => {},
        connectError: () => done("refused"),
        error: () => done("refused"),
      },
    }).catch(() => done("refused"));
  });
}
