// The upstream client edge: the only module that knows how backends are called (Bun's
// fetch here; undici under Node later). Everything else hands it a URL, headers, a body
// and an AbortSignal, and gets a Web Response back.
//
// Bun's fetch specifics handled here:
//  - `timeout: false`: fetch otherwise aborts after 300 s without bytes, under our own
//    first-byte/idle/total timeouts (a long prefill would die at 5 min whatever the config).
//  - it decompresses gzip/br/deflate bodies but keeps content-encoding/content-length of
//    the compressed answer (PLATFORM-NOTES.md): responseHeaders() drops both when set.
//  - it has no connect timeout (oven-sh/bun#33338): probeConnect() lets the proxy tell
//    "cannot connect" from "connected, backend slow" when the connect deadline passes.
//  - at most 256 fetches in flight unless BUN_CONFIG_MAX_HTTP_REQUESTS is set at start
//    (src/cli/fetch-cap.ts).

/** POST a JSON body upstream. */
export type FetchFn = (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<Response>;

export const upstreamFetch: FetchFn = (url, headers, body, signal) =>
  fetch(url, { method: "POST", headers, body, signal, timeout: false, redirect: "manual" } as RequestInit);

export type ConnectProbe = "ok" | "refused" | "timeout";

/** Try a TCP connection to the backend's host:port within `timeoutMs`. */
export function probeConnect(url: string, timeoutMs: number): Promise<ConnectProbe> {
  let host: string;
  let port: number;
  let tls: boolean;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, "");
    tls = u.protocol === "https:";
    port = u.port ? Number(u.port) : tls ? 443 : 80;
  } catch {
    return Promise.resolve("refused");
  }
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
      hostname: host,
      port,
      socket: {
        open: (s) => done("ok", s),
        data: () => {},
        connectError: () => done("refused"),
        error: () => done("refused"),
      },
    }).catch(() => done("refused"));
  });
}
