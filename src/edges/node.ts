// Node's edges: node:http, undici, better-sqlite3, worker_threads, node:crypto, and
// bench's node:net and node:child_process. Only in dist/llmproxy.mjs (scripts/build.ts),
// which Node runs; never loaded under Bun.

import * as nodeCrypto from "node:crypto";
import { parentPort, Worker } from "node:worker_threads";
import { startServer } from "../server/node-server.ts";
import { wholeResponse } from "../server/node-response.ts";
import { streamBody } from "../server/stream-body-node.ts";
import { probeConnect, upstreamFetch } from "../proxy/upstream-node.ts";
import { loadNodeSqlite } from "../store/sqlite-node.ts";
import type { Edges, Thread, ThreadParent, ThreadScript } from "./types.ts";
import { nodeBenchTools } from "../bench/tools-node.ts";

/** Each worker script is a bundle of its own beside dist/llmproxy.mjs (scripts/build.ts). */
const BUNDLES: Record<ThreadScript, string> = { metering: "./usage-worker.mjs" };

function startThread(script: ThreadScript): Thread {
  // import.meta.url is dist/llmproxy.mjs here: the bundle this module is part of
  const worker = new Worker(new URL(BUNDLES[script], import.meta.url));
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (fn) => {
      worker.on("message", fn);
    },
    onError: (fn) => {
      worker.on("error", fn);
    },
    terminate: () => void worker.terminate(),
  };
}

function threadParent(): ThreadParent {
  const port = parentPort;
  if (!port) throw new Error("threadParent() called outside a worker thread");
  return {
    post: (m) => port.postMessage(m),
    onMessage: (fn) => {
      port.on("message", fn);
    },
  };
}

// one-shot hash() from Node 20.12 (~2x faster than createHash); a namespace read, so an
// older Node that lacks it still loads this module
const hash = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;
const sha256Hex: (s: string) => string =
  typeof hash === "function" ? (s) => hash("sha256", s, "hex") : (s) => nodeCrypto.createHash("sha256").update(s).digest("hex");

/**
 * Random bytes for ids, drawn in bulk: randomBytes(16) per id cost ~12 µs a request in
 * the proxy's profile on Node 20 (a C++ call and a Buffer each time); one randomFillSync
 * per 4 KiB, as Node's own randomUUID does, brings it under 1 µs.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolAt = POOL_SIZE;
const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, version, 74 random bits, variant. */
function uuidv7(): string {
  if (poolAt + 10 > POOL_SIZE) {
    nodeCrypto.randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 10;
  const ms = Date.now();
  // the 48-bit time as 12 hex digits: the high 16 bits, then the low 32
  const t = (Math.floor(ms / 0x100000000).toString(16).padStart(4, "0") + (ms >>> 0).toString(16).padStart(8, "0")).slice(-12);
  return (
    `${t.slice(0, 8)}-${t.slice(8, 12)}-` +
    `7${hex[pool[r]! & 0x0f]!.slice(1)}${hex[pool[r + 1]!]}-` +
    `${hex[0x80 | (pool[r + 2]! & 0x3f)]}${hex[pool[r + 3]!]}-` +
    `${hex[pool[r + 4]!]}${hex[pool[r + 5]!]}${hex[pool[r + 6]!]}${hex[pool[r + 7]!]}${hex[pool[r + 8]!]}${hex[pool[r + 9]!]}`
  );
}

export const runtimeEdges: Edges = {
  runtime: `node ${process.versions.node}`,
  startServer,
  serverHoldsHeaders: false,
  wholeResponse,
  streamBody,
  upstreamFetch,
  // undici's Agent has no global cap on requests in flight (upstream-node.ts)
  prepareDaemon: () => {},
  probeConnect,
  loadSqlite: loadNodeSqlite,
  startThread,
  threadParent,
  sha256Hex,
  uuidv7,
  // V8 collects young garbage often and cheaply on its own; there is no non-blocking hint
  gcSoon: null,
  benchTools: nodeBenchTools,
};
