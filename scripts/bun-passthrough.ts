// The floor under llmproxy on Bun, for scripts/bench-peers.sh: Bun.serve answering each
// request with Bun's fetch of the same path from the backend, headers and body streamed
// through as they are. No parsing, routing, usage, metering, logs or limits: what the
// runtime's HTTP server and client cost by themselves on this machine, measured in the
// same run as nginx and llmproxy.
//
//   bun scripts/bun-passthrough.ts http://127.0.0.1:PORT   (prints "listening on URL")
//
// Start it with BUN_CONFIG_MAX_HTTP_REQUESTS set (bench-peers.sh does), as llmproxy
// starts itself: Bun's fetch allows 256 requests in flight otherwise.

const backend = process.argv[2]?.replace(/\/$/, "");
if (!backend?.startsWith("http://")) {
  process.stderr.write("usage: bun scripts/bun-passthrough.ts http://HOST:PORT\n");
  process.exit(2);
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  development: false,
  reusePort: false,
  // streams may pause longer than Bun's default 10 s
  idleTimeout: 0,
  fetch(req) {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    return fetch(backend + path, { method: req.method, headers: req.headers, body: req.body, redirect: "manual", decompress: false } as RequestInit);
  },
});
process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
for (const s of ["SIGTERM", "SIGINT"] as const) process.on(s, () => process.exit(0));
