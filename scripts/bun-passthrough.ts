// The floor under llmproxy on Bun, for scripts/bench-peers.sh: Bun.serve answering each
// request with Bun's fetch of the same path from the backend, headers and body streamed
// through as they are. No parsing, routing, usage, metering, logs or limits: what the
// runtime's HTTP server and client cost by themselves on this machine, measured in the
// same run as nginx and llmproxy.
//
//   bun scripts/bun-passthrough.ts http://127.0.0.1:PORT [--read-in-js]   (prints "listening on URL")
//
// --read-in-js: the answer's bytes pass through JavaScript, as in a proxy that reads usage
// from them, by the cheapest means each: a whole answer read at once (arrayBuffer()) and
// answered from those bytes; a stream (text/event-stream) read chunk by chunk
// (reader.read()) and written to the client through a "direct" stream. Bun's fetch body
// then holds one buffer of its chunk size (64 KB) per pending read, i.e. per open stream,
// which the native pipe does not.
//
// Start it with BUN_CONFIG_MAX_HTTP_REQUESTS set (bench-peers.sh does), as llmproxy
// starts itself: Bun's fetch allows 256 requests in flight otherwise.

const backend = process.argv[2]?.replace(/\/$/, "");
const readInJs = process.argv.includes("--read-in-js");
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
    const answer = fetch(backend + path, { method: req.method, headers: req.headers, body: req.body, redirect: "manual", decompress: false } as RequestInit);
    return readInJs ? answer.then(throughJs) : answer;
  },
});
interface DirectController {
  write(data: Uint8Array): number | Promise<number>;
  close(): void;
}

async function throughJs(res: Response): Promise<Response> {
  if (!res.body) return res;
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) {
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  }
  const reader = res.body.getReader();
  const body = new ReadableStream({
    type: "direct",
    async pull(c: DirectController) {
      for (;;) {
        const r = await reader.read();
        if (r.done) return c.close();
        const w = c.write(r.value);
        if (typeof w !== "number") await w;
      }
    },
  } as unknown as ConstructorParameters<typeof ReadableStream<Uint8Array>>[0]);
  return new Response(body, { status: res.status, headers: res.headers });
}

process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
for (const s of ["SIGTERM", "SIGINT"] as const) process.on(s, () => process.exit(0));
